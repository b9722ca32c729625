// Reading Prometheus's text exposition format and turning two scrapes
// into rates and latency quantiles.

// parse returns a Map from series name to [{labels, value}].
export function parse(text) {
  const out = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) {
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) {
      continue;
    }
    const labels = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      }
    }
    const value = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    if (!out.has(m[1])) {
      out.set(m[1], []);
    }
    out.get(m[1]).push({ labels, value });
  }
  return out;
}

// sum adds a series' values over all its label sets (null if absent).
export function sum(series, name) {
  const s = series.get(name);
  if (!s) {
    return null;
  }
  return s.reduce((a, x) => a + x.value, 0);
}

// rate is (now − before) / seconds, null when either is missing; a
// counter that went down (the node restarted) gives null, not a negative.
export function rate(now, before, seconds) {
  if (now === null || before === null || !(seconds > 0) || now < before) {
    return null;
  }
  return (now - before) / seconds;
}

// buckets returns a histogram's cumulative buckets as [[le, count]],
// sorted by le.
export function buckets(series, name) {
  const s = series.get(name + "_bucket") || [];
  return s
    .map((x) => [x.labels.le === "+Inf" ? Infinity : Number(x.labels.le), x.value])
    .sort((a, b) => a[0] - b[0]);
}

// quantile estimates the q-quantile of the observations made between two
// scrapes of a histogram's buckets, interpolating inside a bucket as
// Prometheus's histogram_quantile does; null without new observations.
export function quantile(q, now, before) {
  if (!now.length) {
    return null;
  }
  const prev = new Map(before.map(([le, c]) => [le, c]));
  const delta = now.map(([le, c]) => [le, c - (prev.get(le) || 0)]);
  const total = delta[delta.length - 1][1];
  if (!(total > 0) || delta.some(([, c]) => c < 0)) {
    return null;
  }
  const rank = q * total;
  let lower = 0, below = 0;
  for (const [le, c] of delta) {
    if (c >= rank) {
      if (le === Infinity) {
        return lower; // beyond the last bound: say the last bound
      }
      const inBucket = c - below;
      return inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
    }
    lower = le === Infinity ? lower : le;
    below = c;
  }
  return lower;
}
