// The wallboard page: builds the board from its layout, then applies the stream's figures and banners.
// Plain script, no build step and no network beyond this service: kiosks on the floor often have no internet.
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("wallboard-config").textContent);
  const texts = config.texts;
  const t = (key) => texts[key] ?? key;
  const registry = new Map(config.tiles.map((tile) => [tile.kpi, tile]));
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const CORNERS = ["quality", "wellbeing", "sales", "efficiency"];
  const RETRY_AFTER_CLOSE_MS = 5000;
  const WAIT_CLOCK = "longest_wait_s_now";
  const numbers = (digits) => new Intl.NumberFormat(config.language, {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
  const integer = numbers(0);
  const oneDecimal = numbers(1);
  const panels = new Map();
  let banners = [];
  let newest = null;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // The window a tile reads: the layout's choice, else the tile's own ("day", "period" or "now" for live tiles).
  function windowOf(kpi, tile) {
    return config.layout.windows[kpi] || tile.window;
  }

  function tileNode(kpi, tile) {
    const kind = tile ? windowOf(kpi, tile) : null;
    const label = el("div", { class: "label" }, el("span", { class: "name" }, texts[`kpi.${kpi}`] ?? kpi));
    // Every stored window is named on the tile; live tiles sit in the "now" strip, which names theirs.
    if (kind && kind !== "now") {
      label.append(el("span", { class: "window", "data-window": kind }, t(`window.${kind}`)));
    }
    return el("div", { class: tile && tile.large ? "tile large" : "tile", "data-kpi": kpi, "data-status": "nodata" },
      label,
      el("div", { class: "value", "data-role": "value" }, t("not_enough_data")),
      el("div", { class: "target", "data-role": "target" }));
  }

  // The board's own lines win over the tenant's targets, which win over the tile's defaults.
  function levels(kpi, tenantTargets) {
    const tile = registry.get(kpi) || {};
    const own = config.layout.targets[kpi];
    const tenant = tenantTargets[kpi];
    const source = own || tenant || (tile.target !== null && tile.target !== undefined ? tile : null);
    if (!source) return null;
    const num = (v) => (v === null || v === undefined ? null : Number(v));
    const better = tenant && !own ? tenant.higher_is_better : tile.higher !== "worse";
    return { target: num(source.target), warning: num(source.warning), alert: num(source.alert), better };
  }

  function status(level, value) {
    if (!level) return "none";
    const past = (line) => line !== null && (level.better ? value < line : value > line);
    if (past(level.alert)) return "alert";
    if (past(level.warning ?? level.target)) return "warning";
    return "ok";
  }

  function duration(seconds) {
    const total = Math.round(seconds);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function format(kind, value) {
    switch (kind) {
      case "percent": return `${oneDecimal.format(value * 100)} %`;
      case "score": return oneDecimal.format(value);
      case "signed": return `${value > 0 ? "+" : value < 0 ? "\u2212" : ""}${integer.format(Math.abs(value))}`;
      case "duration": return duration(value);
      case "money": return integer.format(value);
      case "count": return integer.format(value);
      default: return Number.isInteger(value) ? integer.format(value) : oneDecimal.format(value);
    }
  }

  function buildPanel(ref) {
    const live = el("div", { class: "live" });
    const triangle = el("div", { class: "triangle" });
    const corners = {};
    for (const corner of CORNERS) {
      const tiles = el("div", { class: "tiles" });
      corners[corner] = tiles;
      triangle.append(el("section", { class: "corner", "data-corner": corner },
        el("h3", {}, t(`corner.${corner}`)), tiles));
    }
    const otherTiles = el("div", { class: "tiles" });
    const members = el("section", { class: "members", "data-role": "members" });
    const section = el("section", { class: "scope", "data-scope": ref.scope, "data-scope-id": ref.scope_id },
      el("h2", {}, ref.label || ref.scope_id), live, triangle, members,
      el("section", { class: "other" }, el("h3", {}, t("other")), otherTiles));
    const tiles = new Map();
    for (const kpi of config.layout.tiles) {
      const tile = registry.get(kpi);
      const node = tileNode(kpi, tile);
      tiles.set(kpi, node);
      (tile.corner === "live" ? live : corners[tile.corner]).append(node);
    }
    panels.set(`${ref.scope}\u0000${ref.scope_id}`,
      { tiles, otherTiles, members, windows: {}, targets: {}, receivedAt: 0 });
    return section;
  }

  // A tile reads the window of its kind: "15m:…", "day:…", "week:…", "period:…", "30d:…" or "now" (live).
  function lookup(windows, kpi, kind) {
    for (const [window, figures] of Object.entries(windows)) {
      if (window !== kind && !window.startsWith(`${kind}:`)) continue;
      if (Object.prototype.hasOwnProperty.call(figures, kpi)) return { found: true, value: figures[kpi] };
    }
    return { found: false, value: null };
  }

  function anyWindow(windows, kpi) {
    for (const kind of ["now", "day", "period"]) {
      const found = lookup(windows, kpi, kind);
      if (found.found) return found;
    }
    return { found: false, value: null };
  }

  function stateCounts(windows, kpi, kind) {
    const counts = [];
    for (const state of config.agent_states) {
      const { found, value } = lookup(windows, `${kpi}.${state}`, kind);
      if (found && value !== null) counts.push([state, Number(value)]);
    }
    return counts;
  }

  // The longest wait keeps growing between events while someone is waiting: count it on the screen.
  function waitingFor(panel) {
    const waiting = lookup(panel.windows, "waiting_now", "now").value;
    return waiting !== null && Number(waiting) > 0 ? (Date.now() - panel.receivedAt) / 1000 : 0;
  }

  function tick() {
    if (document.body.dataset.connection !== "live") return;  // a stale board must not look like it counts
    for (const panel of panels.values()) {
      const node = panel.tiles.get(WAIT_CLOCK);
      if (node && panel.receivedAt) show(node, WAIT_CLOCK, registry.get(WAIT_CLOCK), panel);
    }
  }

  function noData(node) {
    node.dataset.status = "nodata";
    node.querySelector("[data-role=value]").textContent = t("not_enough_data");
    node.querySelector("[data-role=target]").textContent = "";
  }

  function show(node, kpi, tile, panel) {
    const valueNode = node.querySelector("[data-role=value]");
    const targetNode = node.querySelector("[data-role=target]");
    if (tile && tile.format === "states") {
      const counts = stateCounts(panel.windows, kpi, windowOf(kpi, tile));
      if (counts.length === 0) {
        noData(node);
        return;
      }
      const grid = el("div", { class: "states" });
      for (const [state, count] of counts) {
        grid.append(el("div", { class: "state", "data-state": state },
          el("b", {}, integer.format(count)), el("span", {}, t(`agents.${state}`))));
      }
      node.dataset.status = "none";
      valueNode.replaceChildren(grid);
      return;
    }
    const { value } = tile ? lookup(panel.windows, kpi, windowOf(kpi, tile)) : anyWindow(panel.windows, kpi);
    if (value === null || value === undefined) {
      noData(node);
      return;
    }
    const number = Number(value) + (kpi === WAIT_CLOCK ? waitingFor(panel) : 0);
    const kind = tile ? tile.format : "decimal";
    const level = tile ? levels(kpi, panel.targets) : null;
    node.dataset.status = status(level, number);
    valueNode.textContent = format(kind, number);
    targetNode.textContent = level && level.target !== null ? `${t("target")} ${format(kind, level.target)}` : "";
  }

  // "aht_s.voice" or "agents_now.break" belong to a registered tile; "dim.friendliness" is a figure of its own.
  function ownFigure(name) {
    return !registry.has(name) && !registry.has(name.split(".")[0]);
  }

  // An open team's members, one row each; absent (and the table empty) unless the team decided "open".
  function renderMembers(panel, members) {
    if (!Array.isArray(members) || members.length === 0) {
      panel.members.replaceChildren();
      return;
    }
    const columns = config.layout.member_tiles;
    const head = el("tr", {}, el("th", {}, t("members")),
      ...columns.map((kpi) => el("th", {}, texts[`kpi.${kpi}`] ?? kpi)));
    const rows = members.map((member) => el("tr", { "data-agent-id": member.agent_id },
      el("td", {}, member.display_name || member.agent_id),
      ...columns.map((kpi) => {
        const value = member.figures[kpi];
        const tile = registry.get(kpi);
        return value === null || value === undefined
          ? el("td", { class: "nodata" }, t("not_enough_data"))
          : el("td", {}, format(tile ? tile.format : "decimal", Number(value)));
      })));
    panel.members.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  function applyFigures(update) {
    const panel = panels.get(`${update.scope}\u0000${update.scope_id}`);
    if (!panel) return;
    panel.windows = update.windows;
    panel.targets = update.targets || {};
    panel.receivedAt = Date.now();
    renderMembers(panel, update.members);
    for (const [kpi, node] of panel.tiles) show(node, kpi, registry.get(kpi), panel);
    // Figures no tile is registered for yet still show, under their own names.
    const names = new Set();
    for (const figures of Object.values(config.layout.show_other ? panel.windows : {})) {
      for (const name of Object.keys(figures)) {
        if (ownFigure(name)) names.add(name);
      }
    }
    for (const name of [...names].sort()) {
      let node = panel.otherTiles.querySelector(`[data-kpi="${CSS.escape(name)}"]`);
      if (!node) {
        node = tileNode(name, null);
        panel.otherTiles.append(node);
      }
      show(node, name, null, panel);
    }
    const at = new Date(update.updated_at || Date.now());
    if (!newest || at > newest) {
      newest = at;
      const shown = document.getElementById("last-update");
      shown.dateTime = at.toISOString();
      shown.textContent = at.toLocaleTimeString(config.language,
        { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    }
  }

  function renderBanners() {
    const now = Date.now();
    banners = banners.filter((banner) => Date.parse(banner.expires_at) > now);
    const area = document.getElementById("banners");
    area.replaceChildren(...banners.map((banner) => el("div", {
      class: "banner", "data-severity": banner.severity, "data-banner-id": banner.banner_id, lang: banner.language,
    }, el("strong", {}, banner.title), el("span", {}, banner.text))));
  }

  function setConnection(state) {
    document.body.dataset.connection = state;
    document.getElementById("connection").textContent = t(`state.${state}`);
  }

  function connect() {
    const source = new EventSource(`${config.stream}?token=${encodeURIComponent(token)}`);
    source.onopen = () => setConnection("live");
    source.addEventListener("figures", (event) => applyFigures(JSON.parse(event.data)));
    source.addEventListener("banners", (event) => {
      banners = JSON.parse(event.data).banners;
      renderBanners();
    });
    source.onerror = () => {
      setConnection("lost");
      // EventSource retries by itself after a dropped stream, but gives up for good after an error
      // answer (e.g. while the service restarts behind a proxy); keep trying so the wall heals itself.
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, RETRY_AFTER_CLOSE_MS);
      }
    };
  }

  const scopes = document.getElementById("scopes");
  scopes.style.setProperty("--columns", String(Math.min(config.layout.scopes.length, 3)));
  for (const ref of config.layout.scopes) scopes.append(buildPanel(ref));
  document.getElementById("last-update-label").textContent = t("last_update");
  document.getElementById("last-update").textContent = t("never");
  setConnection("connecting");
  window.setInterval(renderBanners, 5000);
  window.setInterval(tick, 1000);
  connect();
})();
