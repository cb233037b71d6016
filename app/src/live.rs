//! Live pages: the browser listens to `/api/v1/alerts/stream` (server-sent events). Every
//! page sees the open alerts change within a second, and fetches its figures again when
//! the server says new data landed (`data` events), without a reload.

use leptos::prelude::*;

use crate::model::AlertEvent;

/// The open alerts as last pushed (none before the stream's first message).
#[derive(Clone, Copy)]
pub struct LiveAlerts(pub RwSignal<Option<Vec<AlertEvent>>>);

/// The data's version as last pushed (0 until new data lands after the page opened).
#[derive(Clone, Copy)]
pub struct DataVersion(pub RwSignal<u64>);

pub fn provide_live_alerts() {
    let alerts = RwSignal::new(None);
    provide_context(LiveAlerts(alerts));
    let version = RwSignal::new(0u64);
    provide_context(DataVersion(version));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use wasm_bindgen::{JsCast, closure::Closure};
        // Signed out (the sign-in page) there is nothing to follow.
        if web_sys::window().and_then(|w| w.location().pathname().ok()).as_deref() == Some("/signin") {
            return;
        }
        let Ok(source) = web_sys::EventSource::new("/api/v1/alerts/stream") else { return };
        let on_alerts = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(text) = e.data().as_string()
                && let Ok(list) = serde_json::from_str::<Vec<AlertEvent>>(&text)
            {
                alerts.set(Some(list));
            }
        });
        let _ = source.add_event_listener_with_callback("alerts", on_alerts.as_ref().unchecked_ref());
        on_alerts.forget();
        let on_data = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(v) = e.data().as_string().and_then(|t| t.parse::<u64>().ok()) {
                version.set(v);
                if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
                    let _ = body.set_attribute("data-version", &v.to_string());
                }
            }
        });
        let _ = source.add_event_listener_with_callback("data", on_data.as_ref().unchecked_ref());
        on_data.forget();
        // The stream lives as long as the page; the browser reconnects it by itself.
        std::mem::forget(source);
    });
}

/// The data's version; 0 where no live context is given (e.g. outside the app shell).
pub fn use_data_version() -> Signal<u64> {
    use_context::<DataVersion>().map_or_else(|| Signal::stored(0), |v| v.0.into())
}

pub fn use_live_alerts() -> RwSignal<Option<Vec<AlertEvent>>> {
    expect_context::<LiveAlerts>().0
}
