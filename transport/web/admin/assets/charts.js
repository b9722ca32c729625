// Line charts drawn by hand in SVG: a rolling window of the last points,
// one path per series, the y axis scaled to the window's maximum, labels
// for the axes. A null value is a gap in its line.

const NS = "http://www.w3.org/2000/svg";

// WINDOW is how many points a chart keeps.
export const WINDOW = 60;

const W = 320, H = 150;
const PAD = { left: 56, right: 8, top: 10, bottom: 22 };

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
export function niceMax(v) {
  if (!(v > 0)) {
    return 1;
  }
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) {
    if (v <= m * p) {
      return m * p;
    }
  }
  return 10 * p;
}

export function format(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) {
    return "–";
  }
  if (unit === "ms") {
    return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(v >= 10 ? 1 : 2)} ms`;
  }
  if (Number.isInteger(v)) {
    return `${v}${unit ? " " + unit : ""}`;
  }
  return `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}${unit ? " " + unit : ""}`;
}

// LineChart draws into a <figure>: a title and the latest values as its
// caption, the SVG below.
export class LineChart {
  // series: [{name, key}]; unit: shown beside values; interval: seconds
  // between points, for the time axis.
  constructor(figure, { title, unit = "", series, interval = 2 }) {
    this.figure = figure;
    this.unit = unit;
    this.series = series;
    this.interval = interval;
    this.points = []; // [{key: value|null}]
    figure.replaceChildren();
    const cap = document.createElement("figcaption");
    const h = document.createElement("span");
    h.className = "chart-title";
    h.textContent = title;
    this.now = document.createElement("span");
    this.now.className = "chart-now";
    this.now.textContent = "waiting for data";
    cap.append(h, this.now);
    this.svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title});
    this.axes = el("g", { class: "axes" });
    this.lines = el("g", { class: "lines" });
    this.svg.append(this.axes, this.lines);
    this.paths = series.map((s, i) => {
      const p = el("path", { class: `line s${i}`, d: "", fill: "none", "data-series": s.key });
      this.lines.append(p);
      return p;
    });
    figure.append(cap, this.svg);
    if (series.length > 1) {
      const legend = document.createElement("ul");
      legend.className = "legend";
      series.forEach((s, i) => {
        const li = document.createElement("li");
        li.className = `s${i}`;
        li.textContent = s.name;
        legend.append(li);
      });
      figure.append(legend);
    }
    this.draw();
  }

  // push adds a point ({key: value|null}) and drops the oldest past WINDOW.
  push(values) {
    this.points.push(values);
    if (this.points.length > WINDOW) {
      this.points.splice(0, this.points.length - WINDOW);
    }
    this.draw();
  }

  draw() {
    let max = 0;
    for (const p of this.points) {
      for (const s of this.series) {
        const v = p[s.key];
        if (typeof v === "number" && v > max) {
          max = v;
        }
      }
    }
    const top = niceMax(max * 1.15); // headroom: a flat line is not drawn on the frame
    this.figure.dataset.points = String(this.points.length);
    this.figure.dataset.max = String(max);
    const x0 = PAD.left, x1 = W - PAD.right, y0 = H - PAD.bottom, y1 = PAD.top;
    const x = (i) => x0 + ((x1 - x0) * (i + WINDOW - this.points.length)) / (WINDOW - 1);
    const y = (v) => y0 - ((y0 - y1) * v) / top;

    this.axes.replaceChildren(
      el("line", { x1: x0, y1: y0, x2: x1, y2: y0, class: "axis" }),
      el("line", { x1: x0, y1: y1, x2: x0, y2: y0, class: "axis" }),
      el("line", { x1: x0, y1: y(top / 2), x2: x1, y2: y(top / 2), class: "grid" }),
      el("line", { x1: x0, y1: y1, x2: x1, y2: y1, class: "grid" }),
      el("text", { x: x0 - 4, y: y0, class: "label", "text-anchor": "end", "dominant-baseline": "middle" }, format(0, "")),
      el("text", { x: x0 - 4, y: y(top / 2), class: "label", "text-anchor": "end", "dominant-baseline": "middle" }, format(top / 2, "")),
      el("text", { x: x0 - 4, y: y1, class: "label", "text-anchor": "end", "dominant-baseline": "hanging" }, format(top, this.unit)),
      el("text", { x: x0, y: H - 4, class: "label", "text-anchor": "start" }, `−${Math.round(((WINDOW - 1) * this.interval) / 60)} min`),
      el("text", { x: x1, y: H - 4, class: "label", "text-anchor": "end" }, "now"),
    );

    this.series.forEach((s, si) => {
      let d = "";
      let pen = false;
      this.points.forEach((p, i) => {
        const v = p[s.key];
        if (typeof v !== "number" || !Number.isFinite(v)) {
          pen = false;
          return;
        }
        d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      this.paths[si].setAttribute("d", d);
    });

    const last = this.points[this.points.length - 1];
    if (last) {
      this.now.textContent = this.series.map((s) => (this.series.length > 1 ? `${s.name} ` : "") + format(last[s.key], this.unit)).join(" · ");
    }
  }
}
