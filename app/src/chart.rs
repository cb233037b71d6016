//! Charts: Apache ECharts (installed from npm, served by the site from `/vendor`) driven
//! from Rust. A chart is an ECharts option built as JSON; a click on an element comes
//! back as its series and name. The server renders an empty, labelled box; the browser
//! draws into it once hydrated.

use leptos::prelude::*;

/// The element of a chart that was clicked.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartClick {
    pub series: String,
    /// The category (x-axis value or slice name).
    pub name: String,
}

#[component]
pub fn Chart(
    /// The ECharts option (see echarts.apache.org/en/option.html).
    #[prop(into)]
    option: Signal<serde_json::Value>,
    /// What the chart shows, for screen readers.
    #[prop(into)]
    label: String,
    #[prop(optional)] on_click: Option<Callback<ChartClick>>,
    #[prop(optional, into)] id: Option<String>,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    browser::draw(node, option, on_click);
    #[cfg(not(feature = "hydrate"))]
    let _ = (option, on_click);
    view! { <div class="chart" id=id node_ref=node role="img" aria-label=label></div> }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, rc::Rc};

    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue, closure::Closure, prelude::wasm_bindgen};

    use super::ChartClick;

    #[wasm_bindgen]
    extern "C" {
        type ECharts;
        #[wasm_bindgen(js_namespace = echarts, js_name = init, catch)]
        fn init(el: &web_sys::HtmlElement) -> Result<ECharts, JsValue>;
        #[wasm_bindgen(method, js_name = setOption)]
        fn set_option(this: &ECharts, option: &JsValue, not_merge: bool);
        #[wasm_bindgen(method)]
        fn on(this: &ECharts, event: &str, handler: &js_sys::Function);
        #[wasm_bindgen(method)]
        fn resize(this: &ECharts);
        #[wasm_bindgen(method)]
        fn dispose(this: &ECharts);
    }

    fn text(v: &JsValue, key: &str) -> String {
        js_sys::Reflect::get(v, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    }

    /// Draws `option` into `node` whenever it changes; clicks call `on_click`.
    pub fn draw(
        node: NodeRef<leptos::html::Div>,
        option: Signal<serde_json::Value>,
        on_click: Option<Callback<ChartClick>>,
    ) {
        let chart: Rc<RefCell<Option<ECharts>>> = Rc::default();
        let keep = chart.clone();
        Effect::new(move |_| {
            let option = option.get();
            let Some(el) = node.get() else { return };
            let mut slot = chart.borrow_mut();
            if slot.is_none() {
                let el: &web_sys::HtmlElement = el.unchecked_ref();
                match init(el) {
                    Ok(c) => {
                        if let Some(cb) = on_click {
                            let handler = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
                                cb.run(ChartClick {
                                    series: text(&p, "seriesName"),
                                    name: text(&p, "name"),
                                })
                            });
                            c.on("click", handler.as_ref().unchecked_ref());
                            handler.forget();
                        }
                        *slot = Some(c);
                    }
                    Err(e) => {
                        leptos::logging::error!("ECharts is not loaded: {e:?}");
                        return;
                    }
                }
            }
            if let (Some(c), Ok(js)) = (slot.as_ref(), js_sys::JSON::parse(&option.to_string())) {
                c.set_option(&js, true);
            }
        });
        let resize = Closure::<dyn Fn()>::new({
            let chart = keep.clone();
            move || {
                if let Some(c) = chart.borrow().as_ref() {
                    c.resize();
                }
            }
        });
        let window = web_sys::window().expect("a window");
        let _ = window.add_event_listener_with_callback("resize", resize.as_ref().unchecked_ref());
        let cleanup = send_wrapper::SendWrapper::new((keep, resize, window));
        on_cleanup(move || {
            let (chart, resize, window) = cleanup.take();
            let _ = window.remove_event_listener_with_callback("resize", resize.as_ref().unchecked_ref());
            if let Some(c) = chart.borrow_mut().take() {
                c.dispose();
            }
        });
    }
}
