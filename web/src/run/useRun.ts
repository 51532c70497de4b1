// A run, kept live: its source (flow text, Temporal link), then either its finished result or
// its event stream (SSE), folded into a RunView in batches (one render per animation frame).
import { useEffect, useRef, useState } from "react";
import { authHeaders, call, errorText, http, type RunEvent, type RunResult, type RunSource } from "../api/typed";
import { API_BASE } from "../api/client";
import { streamSse } from "./sse";
import { applyEvents, emptyView, type RunView, viewFromResult } from "./state";

export interface LiveRun {
  view: RunView;
  /** The full result once the run is over (final context, errors). */
  result?: RunResult;
  source?: RunSource;
  sourceError?: string;
  error?: string;
  streaming: boolean;
  /** Load the result again (after a cancel, say). */
  refresh: () => void;
}

export function useRun(runId: string): LiveRun {
  const [view, setView] = useState<RunView>(() => emptyView(runId));
  const [result, setResult] = useState<RunResult>();
  const [source, setSource] = useState<RunSource>();
  const [sourceError, setSourceError] = useState<string>();
  const [error, setError] = useState<string>();
  const [streaming, setStreaming] = useState(false);
  const [tick, setTick] = useState(0);
  const pending = useRef<RunEvent[]>([]);

  useEffect(() => {
    setSource(undefined);
    setSourceError(undefined);
    call(http.GET("/api/v1/runs/{run_id}/source", { params: { path: { run_id: runId } } }), "loading the run's flow").then(setSource, (e: unknown) =>
      setSourceError(errorText(e)),
    );
  }, [runId]);

  useEffect(() => {
    const abort = new AbortController();
    let frame = 0;
    let finished = false;
    setView(emptyView(runId));
    setResult(undefined);
    setError(undefined);
    const loadResult = () =>
      call(http.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: runId } } }), "loading the run").then((r) => {
        if (abort.signal.aborted) return r;
        setResult(r);
        if (r.status !== "running") setView((v) => viewFromResult(r, v.lastSeq));
        return r;
      });
    const flush = () => {
      frame = 0;
      const batch = pending.current;
      pending.current = [];
      if (batch.length > 0) setView((v) => applyEvents(v, batch));
    };
    loadResult().then(
      (r) => {
        if (r.status !== "running" || abort.signal.aborted) return;
        setStreaming(true);
        void streamSse(`${API_BASE}/runs/${encodeURIComponent(runId)}/events`, {
          headers: authHeaders(),
          signal: abort.signal,
          onMessage: (m) => {
            let ev: RunEvent;
            try {
              ev = JSON.parse(m.data) as RunEvent;
            } catch {
              return;
            }
            pending.current.push(ev);
            if (ev.type === "run_finished") finished = true;
            if (!frame) frame = requestAnimationFrame(flush);
          },
          reconnect: () => !finished,
          onError: (e, retry) => setError(`live events interrupted (${errorText(e)}); retrying in ${Math.round(retry / 100) / 10} s`),
          onEnd: () => {
            flush();
            setStreaming(false);
            setError(undefined);
            loadResult().catch((e: unknown) => setError(errorText(e)));
          },
        });
      },
      (e: unknown) => setError(errorText(e)),
    );
    return () => {
      abort.abort();
      if (frame) cancelAnimationFrame(frame);
      pending.current = [];
      setStreaming(false);
    };
  }, [runId, tick]);

  return { view, result, source, sourceError, error, streaming, refresh: () => setTick((t) => t + 1) };
}
