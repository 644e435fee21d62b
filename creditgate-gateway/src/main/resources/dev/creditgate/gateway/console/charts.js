// Time-series charts drawn by uPlot (served with the console; no network at run time).
const COLORS = ['#0b5cad', '#c4391d', '#1e6b32', '#7a3e9d', '#8a5a00', '#00798c', '#d1495b', '#3d405b'];

// A chart of series over time. times: seconds since the epoch; series: [{label, values}].
export function timeChart(container, title, times, series, opts = {}) {
  container.replaceChildren();
  const width = Math.max(280, container.clientWidth - 16);
  const data = [times, ...series.map((s) => s.values)];
  const plot = new window.uPlot({
    title,
    width,
    height: opts.height || 220,
    scales: { x: { time: true } },
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        fill: opts.bars ? COLORS[i % COLORS.length] + 'bb' : opts.fill ? COLORS[i % COLORS.length] + '22' : undefined,
        paths: opts.bars ? window.uPlot.paths.bars({ size: [0.8, 40] }) : undefined,
        points: { show: !opts.bars && times.length < 80 },
      })),
    ],
    axes: [{}, { size: 70 }],
  }, data, container);
  const resize = () => plot.setSize({ width: Math.max(280, container.clientWidth - 16), height: opts.height || 220 });
  window.addEventListener('resize', resize);
  return { plot, destroy: () => { window.removeEventListener('resize', resize); plot.destroy(); } };
}

// Buckets {start, <group>, <value>} into one series per group on a time axis of every bucket from
// `from` to `to` (Dates) of `step` seconds, so a range with few buckets still spans the range.
export function pivot(rows, groupKey, valueKey, from, to, step) {
  const first = Math.floor(from.getTime() / 1000 / step) * step;
  const times = [];
  for (let t = first; t < to.getTime() / 1000; t += step) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const groups = new Map();
  for (const r of rows) {
    const i = index.get(Date.parse(r.start) / 1000);
    if (i === undefined) continue;
    const g = r[groupKey] || '(none)';
    if (!groups.has(g)) groups.set(g, new Array(times.length).fill(0));
    groups.get(g)[i] += r[valueKey];
  }
  return { times, series: [...groups.entries()].map(([label, values]) => ({ label, values })) };
}
