import { quantile, type Figures } from "./figures.ts";

/**
 * The report's charts as standalone SVG 1.1 documents (no script, no external font or stylesheet), so they render
 * the same in a browser, on GitHub and in an image viewer.
 */

const FAMILY = `font-family="system-ui, -apple-system, Segoe UI, sans-serif"`;
const FONT = `${FAMILY} font-size="12"`;
const COLORS = { agentos: "#2f6fde", worker: "#7b4fd6", host: "#8a8f98", ok: "#2e9d5b", bad: "#d64545", warn: "#d9a21b", grid: "#e3e6ea", text: "#22262b" };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

function doc(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="20" ${FAMILY} font-size="14" font-weight="600" fill="${COLORS.text}">${escapeXml(title)}</text>`,
    ...body,
    `</svg>`,
    "",
  ].join("\n");
}

/** Round tick steps (1, 2, 5 × 10^n) for an axis from 0 to max. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let x = 0; x <= max + step / 2; x += step) out.push(Math.round(x * 1e6) / 1e6);
  return out;
}

interface Row {
  label: string;
  values: number[];
  color: string;
}

/** Box plots on one horizontal axis: the box is the interquartile range, the bar the median, whiskers min-max, dots the samples. */
function boxPlot(title: string, unit: string, rows: Row[]): string {
  const left = 200;
  const width = 760;
  const plotW = width - left - 30;
  const rowH = 26;
  const top = 40;
  const height = top + rows.length * rowH + 40;
  const max = Math.max(1, ...rows.flatMap((r) => r.values)) * 1.05;
  const tk = ticks(max);
  const axisMax = tk[tk.length - 1]!;
  const x = (val: number) => left + (val / axisMax) * plotW;
  const body: string[] = [];
  for (const t of tk) {
    body.push(`<line x1="${x(t)}" y1="${top - 6}" x2="${x(t)}" y2="${top + rows.length * rowH}" stroke="${COLORS.grid}"/>`);
    body.push(`<text x="${x(t)}" y="${top + rows.length * rowH + 16}" ${FONT} text-anchor="middle" fill="${COLORS.text}">${t}</text>`);
  }
  body.push(`<text x="${left + plotW / 2}" y="${height - 6}" ${FONT} text-anchor="middle" fill="${COLORS.text}">${escapeXml(unit)}</text>`);
  rows.forEach((r, i) => {
    const cy = top + i * rowH + rowH / 2;
    body.push(`<text x="${left - 8}" y="${cy + 4}" ${FONT} text-anchor="end" fill="${COLORS.text}">${escapeXml(r.label)}</text>`);
    if (!r.values.length) {
      body.push(`<text x="${left + 4}" y="${cy + 4}" ${FONT} fill="${COLORS.host}">no samples</text>`);
      return;
    }
    const [mn, q1, md, q3, mx] = [0, 0.25, 0.5, 0.75, 1].map((q) => quantile(r.values, q)) as [number, number, number, number, number];
    body.push(`<line x1="${x(mn)}" y1="${cy}" x2="${x(mx)}" y2="${cy}" stroke="${r.color}"/>`);
    body.push(`<rect x="${x(q1)}" y="${cy - 8}" width="${Math.max(1, x(q3) - x(q1))}" height="16" fill="${r.color}" fill-opacity="0.25" stroke="${r.color}"/>`);
    body.push(`<line x1="${x(md)}" y1="${cy - 9}" x2="${x(md)}" y2="${cy + 9}" stroke="${r.color}" stroke-width="2.5"/>`);
    for (const val of r.values) body.push(`<circle cx="${x(val)}" cy="${cy}" r="2.5" fill="${r.color}"/>`);
  });
  return doc(width, height, title, body);
}

export function latencyChart(f: Figures): string {
  const rows: Row[] = [];
  for (const l of f.latency) {
    for (const which of ["cold", "resumed"] as const) {
      rows.push({ label: `${l.agent} ${which} · agentOS`, values: l.agentos[which].filter((s) => s.exitCode === 0).map((s) => s.wallMs), color: COLORS.agentos });
      if (l.worker) rows.push({ label: `${l.agent} ${which} · worker`, values: l.worker[which].filter((s) => s.exitCode === 0).map((s) => s.wallMs), color: COLORS.worker });
      if (l.host) rows.push({ label: `${l.agent} ${which} · host CLI`, values: l.host[which].filter((s) => s.exitCode === 0).map((s) => s.wallMs), color: COLORS.host });
    }
  }
  return boxPlot("Heartbeat latency (successful heartbeats)", "milliseconds", rows);
}

export function memoryChart(f: Figures): string {
  const rows: Row[] = f.latency.map((l) => ({ label: `${l.agent} · agentOS`, values: [...l.agentos.cold, ...l.agentos.resumed].map((s) => s.peakRssMb).filter((m) => m > 0), color: COLORS.agentos }));
  for (const l of f.latency) if (l.host) rows.push({ label: `${l.agent} · host CLI`, values: [...l.host.cold, ...l.host.resumed].map((s) => s.peakRssMb).filter((m) => m > 0), color: COLORS.host });
  return boxPlot("Peak memory per heartbeat (process tree RSS)", "MB", rows);
}

/** One square per heartbeat of each chain: green resumed with history, red not; K = killed mid-run, C = sidecar crash. */
export function resumeChart(f: Figures): string {
  const left = 120;
  const size = 26;
  const gap = 6;
  const top = 40;
  const longest = Math.max(1, ...f.resume.map((r) => r.links.length));
  const width = Math.max(420, left + longest * (size + gap) + 20);
  const height = top + f.resume.length * (size + gap) + 44;
  const body: string[] = [];
  f.resume.forEach((r, i) => {
    const y = top + i * (size + gap);
    body.push(`<text x="${left - 8}" y="${y + size / 2 + 4}" ${FONT} text-anchor="end" fill="${COLORS.text}">${escapeXml(r.agent)}</text>`);
    r.links.forEach((l, j) => {
      const good = l.index === 0 ? l.exitCode === 0 : l.resumed && l.historyIntact;
      const x = left + j * (size + gap);
      body.push(`<rect x="${x}" y="${y}" width="${size}" height="${size}" rx="4" fill="${good ? COLORS.ok : COLORS.bad}"><title>${escapeXml(`#${l.index} ${l.kind}: exit ${l.exitCode}${l.errorCode ? ` ${l.errorCode}` : ""}, resumed ${l.resumed}, history ${l.historyIntact}`)}</title></rect>`);
      const mark = l.kind === "killed" ? "K" : l.kind === "sidecar-crash" ? "C" : "";
      if (mark) body.push(`<text x="${x + size / 2}" y="${y + size / 2 + 4}" ${FONT} text-anchor="middle" fill="#ffffff" font-weight="700">${mark}</text>`);
    });
  });
  body.push(`<text x="12" y="${height - 12}" ${FONT} fill="${COLORS.text}">green: resumed with the first turn intact · red: not · K: SIGTERM mid-run · C: sidecar killed mid-run</text>`);
  return doc(width, height, "Resume chain: each heartbeat of one session", body);
}

/** Set-up + run time per workload class, snapshot root beside worktree. */
export function rootsChart(f: Figures): string {
  const rows: Row[] = [];
  for (const c of f.roots.classes) {
    rows.push({ label: `${c.name} · snapshot`, values: [c.snapshot.setupMs + c.snapshot.runMs], color: COLORS.agentos });
    rows.push({ label: `${c.name} · worktree`, values: [c.worktree.setupMs + c.worktree.runMs], color: COLORS.host });
  }
  return boxPlot("Snapshot root vs git worktree: set-up + run", "milliseconds", rows);
}

export const CHARTS = { "latency.svg": latencyChart, "resume.svg": resumeChart, "memory.svg": memoryChart, "roots.svg": rootsChart } as const;
