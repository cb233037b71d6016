//! Firing alerts, live: the browser listens to `/api/v1/alerts/stream` (server-sent
//! events) and every page sees the open alerts change within a second, without a reload.

use leptos::prelude::*;

use crate::model::AlertEvent;

/// The open alerts as last pushed (none before the stream's first message).
#[derive(Clone, Copy)]
pub struct LiveAlerts(pub RwSignal<Option<Vec<AlertEvent>>>);

pub fn provide_live_alerts() {
    let alerts = RwSignal::new(None);
    provide_context(LiveAlerts(alerts));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use wasm_bindgen::{JsCast, closure::Closure};
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
        // The stream lives as long as the page; the browser reconnects it by itself.
        std::mem::forget(source);
    });
}

pub fn use_live_alerts() -> RwSignal<Option<Vec<AlertEvent>>> {
    expect_context::<LiveAlerts>().0
}
