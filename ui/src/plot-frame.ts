/** What the job chart (chart.ts) and the compare chart (compare.ts) share about drawing a uPlot. */

/** The plot's size: its box's width (at least 240 px; 600 before layout) at a fixed height. */
export function plotSize(box: HTMLElement, height: number): { width: number; height: number } {
  return { width: Math.max(240, box.clientWidth || 600), height };
}

/**
 * A caller that runs `draw` at most once per animation frame, however often it is called, so a
 * burst of messages costs one draw.
 */
export function perFrame(draw: () => void): () => void {
  let frame = 0;
  return () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };
}
