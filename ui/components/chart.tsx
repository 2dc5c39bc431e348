// A uPlot time-series chart (canvas; ~50 kB minified for the library). It is created once and fed new
// data with setData, and follows its container's width. Colours pass 4.5:1 against white; the
// series are also told apart by dash pattern, and the current values are given as text for screen readers.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  color: string;
  dash?: number[];
}

export function TimeChart({
  title,
  series,
  data,
  unit,
  summary,
}: {
  title: string;
  series: Series[];
  data: [number[], ...(number | null)[][]];
  unit: string;
  summary: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = series.map((s) => s.label).join('|');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 180,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: true },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#333', grid: { stroke: '#e3e3e3' }, ticks: { stroke: '#ccc' } },
        {
          stroke: '#333',
          grid: { stroke: '#e3e3e3' },
          ticks: { stroke: '#ccc' },
          size: 70,
          values: (_u, vals) => vals.map((v) => `${+v.toFixed(2)}${unit}`),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          ...(s.dash ? { dash: s.dash } : {}),
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${+v.toFixed(2)}${unit}`),
          spanGaps: false,
        })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series change; new data goes through setData below.
  }, [seriesKey, unit]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  );
}
