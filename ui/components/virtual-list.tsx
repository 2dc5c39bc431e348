// A list that puts only the rows in view (plus a few) in the DOM, whatever its length: 10,000
// consumers are 10,000 items in memory but ~30 elements on the page. Rows have a fixed height.
// The list scrolls with the keyboard (it is focusable) and asks for more when the end comes near.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface VirtualListProps<T> {
  items: readonly T[];
  rowHeight: number;
  /** Called when the last rendered row is within a screenful of the end (load the next page). */
  onNearEnd?: () => void;
  label: string;
  render: (item: T, index: number) => ComponentChildren;
  keyOf: (item: T) => string;
  /** Items the server has that are not loaded yet (for the screen reader's set size). */
  total?: number;
}

const OVERSCAN = 6;

export function VirtualList<T>({ items, rowHeight, onNearEnd, label, render, keyOf, total }: VirtualListProps<T>) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);
  useEffect(() => {
    if (onNearEnd && last + Math.ceil(height / rowHeight) >= items.length) onNearEnd();
  }, [last, items.length, height, rowHeight, onNearEnd]);
  const rows = [];
  for (let i = first; i < last; i++) {
    const item = items[i]!;
    rows.push(
      <li
        key={keyOf(item)}
        class="vrow"
        aria-posinset={i + 1}
        aria-setsize={total ?? items.length}
        style={{ transform: `translateY(${i * rowHeight}px)`, height: `${rowHeight}px` }}
      >
        {render(item, i)}
      </li>,
    );
  }
  return (
    <div ref={box} class="vlist" tabIndex={0} role="region" aria-label={label} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      <ul class="vlist-inner" style={{ height: `${items.length * rowHeight}px` }}>
        {rows}
      </ul>
    </div>
  );
}
