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
    /// The element's data (e.g. `[x, y, value]` for a heatmap cell).
    pub value: serde_json::Value,
}

/// The id of the ECharts script element in the page's head (see `shell`).
pub const SCRIPT_ID: &str = "echarts-script";

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
        #[derive(Clone)]
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

    /// Turns the option's [`super::options::YUAN_ZH`] markers into the function they name.
    fn with_formatters(option: &JsValue) {
        let get =
            |v: &JsValue, key: &str| js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
        for (outer, inner, key) in [("yAxis", Some("axisLabel"), "formatter"), ("tooltip", None, "valueFormatter")] {
            let mut holder = get(option, outer);
            if let Some(inner) = inner {
                holder = get(&holder, inner);
            }
            if get(&holder, key).as_string().as_deref() == Some(super::options::YUAN_ZH) {
                let f = Closure::<dyn Fn(JsValue) -> String>::new(|v: JsValue| {
                    v.as_f64().map(crate::format::money_zh).unwrap_or_default()
                });
                let _ = js_sys::Reflect::set(&holder, &JsValue::from_str(key), &f.into_js_value());
            }
        }
    }

    fn text(v: &JsValue, key: &str) -> String {
        js_sys::Reflect::get(v, &JsValue::from_str(key)).ok().and_then(|v| v.as_string()).unwrap_or_default()
    }

    thread_local! {
        /// Whether ECharts has run: its script loads `async` (see `shell`), so a chart may
        /// come before it and waits for its script's load (or error) event. `echarts.init`
        /// being a function is the test: an element with the id `echarts` would also be
        /// `window.echarts`. With no script element to wait for, charts go ahead (and a
        /// missing ECharts is logged when one draws).
        static READY: ArcRwSignal<bool> = {
            let echarts = js_sys::Reflect::get(&window(), &JsValue::from_str("echarts")).unwrap_or(JsValue::UNDEFINED);
            let loaded = js_sys::Reflect::get(&echarts, &JsValue::from_str("init")).is_ok_and(|f| f.is_function());
            let script = document().get_element_by_id(super::SCRIPT_ID);
            let ready = ArcRwSignal::new(loaded || script.is_none());
            if let (false, Some(script)) = (loaded, script) {
                for event in ["load", "error"] {
                    let set = ready.clone();
                    let done = Closure::once_into_js(move || set.set(true));
                    let _ = script.add_event_listener_with_callback(event, done.unchecked_ref());
                }
            }
            ready
        };
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
            if !READY.with(|ready| ready.get()) {
                return;
            }
            let Some(el) = node.get() else { return };
            if option.is_null() {
                return;
            }
            // Hold no borrow while ECharts runs: it may fire a resize that reads `chart`.
            let existing = chart.borrow().clone();
            let c = match existing {
                Some(c) => c,
                None => {
                    let el: &web_sys::HtmlElement = el.unchecked_ref();
                    let c = match init(el) {
                        Ok(c) => c,
                        Err(e) => {
                            leptos::logging::error!("ECharts is not loaded: {e:?}");
                            return;
                        }
                    };
                    if let Some(cb) = on_click {
                        let handler = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
                            let value = js_sys::Reflect::get(&p, &JsValue::from_str("value"))
                                .ok()
                                .and_then(|v| js_sys::JSON::stringify(&v).ok())
                                .and_then(|s| s.as_string())
                                .and_then(|s| serde_json::from_str(&s).ok())
                                .unwrap_or_default();
                            cb.run(ChartClick { series: text(&p, "seriesName"), name: text(&p, "name"), value })
                        });
                        c.on("click", handler.as_ref().unchecked_ref());
                        handler.forget();
                    }
                    *chart.borrow_mut() = Some(c.clone());
                    c
                }
            };
            if let Ok(js) = js_sys::JSON::parse(&option.to_string()) {
                with_formatters(&js);
                c.set_option(&js, true);
            }
            // A chart drawn before its box is laid out (e.g. while a transition still
            // holds the new page) measures zero; measure again once it is.
            if el.client_width() == 0 {
                request_animation_frame(move || c.resize());
            }
        });
        let resize = Closure::<dyn Fn()>::new({
            let chart = keep.clone();
            move || {
                let c = chart.borrow().clone();
                if let Some(c) = c {
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

/// ECharts options for the shapes the pages draw.
pub mod options {
    use serde_json::{Value, json};

    const PALETTE: [&str; 8] = ["#2f5bea", "#f59f00", "#12805c", "#c8372d", "#7048e8", "#1098ad", "#e64980", "#868e96"];

    /// A slice per (name, value); a click gives the slice's name.
    pub fn pie(data: &[(String, f64)]) -> Value {
        let data: Vec<Value> = data.iter().map(|(n, v)| json!({ "name": n, "value": v })).collect();
        json!({
            "animation": false,
            "color": PALETTE,
            "tooltip": { "trigger": "item" },
            "legend": { "type": "scroll", "bottom": 0 },
            "series": [{ "type": "pie", "radius": ["40%", "68%"], "top": 0, "bottom": 28, "data": data,
                          "label": { "formatter": "{b}: {d}%" } }]
        })
    }

    /// Bars per category, one series per (name, values).
    pub fn bars(categories: &[String], series: &[(String, Vec<Option<f64>>)]) -> Value {
        let series: Vec<Value> = series.iter().map(|(n, v)| json!({ "name": n, "type": "bar", "data": v })).collect();
        json!({
            "animation": false,
            "color": PALETTE,
            "tooltip": { "trigger": "axis" },
            "legend": { "top": 0 },
            "grid": { "left": 72, "right": 16, "top": 36, "bottom": 56 },
            "xAxis": { "type": "category", "data": categories, "axisLabel": { "interval": 0, "rotate": if categories.len() > 6 { 30 } else { 0 } } },
            "yAxis": { "type": "value" },
            "series": series
        })
    }

    /// A line per (name, values) over the categories.
    pub fn lines(categories: &[String], series: &[(String, Vec<Option<f64>>)]) -> Value {
        let series: Vec<Value> =
            series.iter().map(|(n, v)| json!({ "name": n, "type": "line", "data": v, "symbolSize": 7 })).collect();
        json!({
            "animation": false,
            "color": PALETTE,
            "tooltip": { "trigger": "axis" },
            "legend": { "top": 0 },
            "grid": { "left": 72, "right": 16, "top": 36, "bottom": 32 },
            "xAxis": { "type": "category", "data": categories },
            "yAxis": { "type": "value", "scale": true },
            "series": series
        })
    }

    /// What a value axis or tooltip formatter names to write money in 万/亿 (the chart
    /// makes it a function, `crate::format::money_zh`, when it draws).
    pub const YUAN_ZH: &str = "mp:yuan-zh";

    /// `option` with its value axis and tooltip in 万/亿, when `zh_money` (Chinese, money).
    pub fn in_yuan_zh(mut option: Value, zh_money: bool) -> Value {
        if zh_money {
            option["yAxis"]["axisLabel"] = json!({ "formatter": YUAN_ZH });
            option["tooltip"]["valueFormatter"] = json!(YUAN_ZH);
        }
        option
    }

    /// A tiny line without axes.
    pub fn sparkline(values: &[Option<f64>]) -> Value {
        json!({
            "animation": false,
            "grid": { "left": 2, "right": 2, "top": 4, "bottom": 4 },
            "xAxis": { "type": "category", "show": false, "data": (0..values.len()).collect::<Vec<_>>() },
            "yAxis": { "type": "value", "show": false, "scale": true },
            "series": [{ "type": "line", "data": values, "symbol": "none", "lineStyle": { "width": 2, "color": "#2f5bea" },
                          "areaStyle": { "color": "rgba(47,91,234,0.08)" } }]
        })
    }

    /// A heatmap of `cells` (x index, y index, value) with labels; `max` sets the scale.
    pub fn heatmap(
        x: &[String],
        y: &[String],
        cells: &[(usize, usize, Option<f64>)],
        max: f64,
        percent: bool,
    ) -> Value {
        let data: Vec<Value> = cells
            .iter()
            .map(|(i, j, v)| json!([i, j, v.map(|v| if percent { (v * 1000.0).round() / 10.0 } else { v })]))
            .collect();
        json!({
            "animation": false,
            "tooltip": { "position": "top" },
            "grid": { "left": 80, "right": 16, "top": 8, "bottom": 72 },
            "xAxis": { "type": "category", "data": x, "splitArea": { "show": true } },
            "yAxis": { "type": "category", "data": y, "splitArea": { "show": true } },
            "visualMap": { "min": 0, "max": if percent { (max * 1000.0).round() / 10.0 } else { max }, "calculable": true,
                           "orient": "horizontal", "left": "center", "bottom": 0, "itemHeight": 120,
                           "inRange": { "color": ["#f5f7ff", "#2f5bea"] } },
            "series": [{ "type": "heatmap", "data": data, "label": { "show": true, "fontSize": 10 } }]
        })
    }
}
