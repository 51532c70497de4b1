// Plugin Marketplace: installed plugins with their actions and schemas, the step kinds they
// add to the palette, enable/disable/uninstall, and install from a directory or archive on
// the server (admin).
import { useMemo, useState } from "react";
import { api, type StepKindInfo } from "../api/client";
import { call, errorText, http } from "../api/typed";
import { ErrorNote, JsonBlock, Loading, useLoad } from "../common/ui";
import { kindColorVar, kindIcon } from "../builder/kinds";

interface Plugin {
  id: string;
  name: string;
  version: string;
  type: string;
  description?: string;
  author?: string;
  enabled: boolean;
  directory?: string;
  actions: string[];
  running?: boolean;
  error?: string | null;
}

interface PluginList {
  plugins: Plugin[];
  problems: ({ directory?: string; message?: string } | string)[];
}

interface PluginInfo extends Plugin {
  info?: { actions?: { id: string; name?: string; description?: string; schema?: unknown }[] } | null;
}

function PluginCard({ plugin, kinds, onChanged, onError }: { plugin: Plugin; kinds: StepKindInfo[]; onChanged: () => void; onError: (e: string) => void }) {
  const [busy, setBusy] = useState(false);
  const info = useLoad(
    () => call(http.GET("/api/v1/plugins/{plugin_id}", { params: { path: { plugin_id: plugin.id } } }), `reading plugin ${plugin.id}`).then((d) => d as unknown as PluginInfo),
    [plugin.id, plugin.enabled],
  );
  const act = async (what: "enable" | "disable" | "uninstall") => {
    setBusy(true);
    try {
      const path = { params: { path: { plugin_id: plugin.id } } };
      if (what === "enable") await call(http.POST("/api/v1/plugins/{plugin_id}/enable", path), "enabling");
      else if (what === "disable") await call(http.POST("/api/v1/plugins/{plugin_id}/disable", path), "disabling");
      else await call(http.DELETE("/api/v1/plugins/{plugin_id}", path), "uninstalling");
      onChanged();
    } catch (e) {
      onError(`${plugin.name}: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };
  const actions = info.data?.info?.actions ?? [];
  return (
    <li className="plugin-card" aria-label={`Plugin ${plugin.name}`} data-plugin={plugin.id}>
      <header className="card-header">
        <h2>
          {plugin.name} <span className="muted">{plugin.version}</span>
        </h2>
        <span className={plugin.enabled ? "status-badge st-passed" : "status-badge st-skipped"}>{plugin.enabled ? "enabled" : "disabled"}</span>
      </header>
      <p className="muted">
        {plugin.type} plugin · {plugin.id}
        {plugin.author ? ` · by ${plugin.author}` : ""}
        {plugin.running ? " · process running" : ""}
      </p>
      {plugin.description ? <p>{plugin.description}</p> : null}
      {plugin.error ? <ErrorNote error={plugin.error} /> : null}
      <h3 className="panel-subtitle">Step kinds it adds to the palette</h3>
      <ul className="chips">
        {kinds.map((k) => (
          <li key={k.name} className="kind-chip" style={{ ["--kind-color" as string]: kindColorVar(k.name, new Map([[k.name, k]])) }}>
            {kindIcon(k.name, new Map([[k.name, k]]))} {k.name}
          </li>
        ))}
        {kinds.length === 0 ? <li className="muted">{plugin.enabled ? "none (yet: the registry refreshes after a change)" : "none while disabled"}</li> : null}
      </ul>
      <h3 className="panel-subtitle">Actions</h3>
      {info.loading && !info.data ? <Loading what="actions" /> : null}
      {info.error ? <ErrorNote error={info.error} onRetry={info.reload} /> : null}
      <ul className="plugin-actions">
        {actions.map((a) => (
          <li key={a.id}>
            <details>
              <summary>
                <code>{a.id}</code> {a.name ? <strong>{a.name}</strong> : null} <span className="muted">{a.description}</span>
              </summary>
              <JsonBlock value={a.schema ?? {}} label={`schema of ${a.id}`} />
            </details>
          </li>
        ))}
        {info.data && actions.length === 0 ? <li className="muted">{plugin.actions.join(", ") || "This plugin declares no actions."}</li> : null}
      </ul>
      <div className="toolbar">
        {plugin.enabled ? (
          <button type="button" className="btn" disabled={busy} onClick={() => void act("disable")}>
            Disable
          </button>
        ) : (
          <button type="button" className="btn primary" disabled={busy} onClick={() => void act("enable")}>
            Enable
          </button>
        )}
        <button type="button" className="btn danger" disabled={busy} onClick={() => void act("uninstall")}>
          Uninstall
        </button>
      </div>
    </li>
  );
}

export function PluginsScreen() {
  const list = useLoad(() => call(http.GET("/api/v1/plugins"), "listing plugins").then((d) => d as unknown as PluginList), []);
  const kinds = useLoad(() => api.stepKinds(), []);
  const [source, setSource] = useState("");
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error: boolean; text: string }>();
  const bySource = useMemo(() => {
    const m = new Map<string, StepKindInfo[]>();
    for (const k of kinds.data ?? []) if (k.source.startsWith("plugin:")) m.set(k.source.slice(7), [...(m.get(k.source.slice(7)) ?? []), k]);
    return m;
  }, [kinds.data]);
  const reload = () => {
    list.reload();
    kinds.reload();
  };

  const install = async () => {
    setBusy(true);
    setMessage(undefined);
    try {
      if (!source.trim()) throw new Error("give a directory or an archive (.zip, .tar.gz) on the server");
      const out = (await call(http.POST("/api/v1/plugins/install", { body: { source: source.trim(), force } }), "installing")) as unknown as Plugin;
      setMessage({ error: false, text: `Installed ${out.name ?? out.id} ${out.version ?? ""}.` });
      setSource("");
      reload();
    } catch (e) {
      setMessage({ error: true, text: `Not installed: ${errorText(e)}` });
    } finally {
      setBusy(false);
    }
  };

  const discover = async () => {
    setMessage(undefined);
    try {
      await call(http.POST("/api/v1/plugins/discover"), "discovering");
      reload();
    } catch (e) {
      setMessage({ error: true, text: errorText(e) });
    }
  };

  return (
    <div className="page wide">
      <h1>Plugins</h1>
      <form
        className="install-form card"
        aria-label="Install a plugin"
        onSubmit={(e) => {
          e.preventDefault();
          void install();
        }}
      >
        <label>
          Install from a directory or archive on the server (admin)
          <input className="input" name="source" value={source} onChange={(e) => setSource(e.target.value)} placeholder="/path/to/my-plugin or /path/to/plugin.tar.gz" />
        </label>
        <label className="inline">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> replace an installed version
        </label>
        <div className="toolbar">
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? "Installing…" : "Install"}
          </button>
          <button type="button" className="btn" onClick={() => void discover()}>
            Discover plugins in the plugins folder
          </button>
        </div>
        <p className="muted small">Nothing is downloaded: the server installs from its own disk.</p>
      </form>
      {message ? message.error ? <ErrorNote error={message.text} /> : <p className="ok-text" role="status">{message.text}</p> : null}
      {list.error ? <ErrorNote error={list.error} onRetry={reload} /> : null}
      {list.loading && !list.data ? <Loading what="plugins" /> : null}
      {list.data && list.data.problems.length > 0 ? (
        <div className="notice" role="status">
          <strong>Problems:</strong>
          <ul>
            {list.data.problems.map((p, i) => (
              <li key={i}>{typeof p === "string" ? p : `${p.directory ?? ""} ${p.message ?? JSON.stringify(p)}`}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <ul className="plugin-list">
        {(list.data?.plugins ?? []).map((p) => (
          <PluginCard key={`${p.id}:${p.enabled}`} plugin={p} kinds={bySource.get(p.id) ?? []} onChanged={reload} onError={(text) => setMessage({ error: true, text })} />
        ))}
      </ul>
      {list.data && list.data.plugins.length === 0 ? <p className="empty-state">No plugins installed. Install one above (try examples/plugins/my-plugin of the testflow repository).</p> : null}
    </div>
  );
}
