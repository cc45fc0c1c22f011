// The price board: one card per fixture, updated in place. Nothing from the feed is ever parsed as HTML:
// every text goes through textContent. State is readable from data attributes (data-fixture-id,
// data-status, data-revision, data-market-type, data-selection) for operators' tools and the browser tests.

export const MARKET_TYPES = [
  "match_result",
  "double_chance",
  "draw_no_bet",
  "total_goals",
  "both_teams_to_score",
  "correct_score",
  "asian_handicap",
  "team_total",
];

const MARKET_LABELS = {
  match_result: "Match result",
  double_chance: "Double chance",
  draw_no_bet: "Draw no bet",
  total_goals: "Total goals",
  both_teams_to_score: "Both teams to score",
  correct_score: "Correct score",
  asian_handicap: "Asian handicap",
  team_total: "Team totals",
};

const SELECTION_LABELS = {
  home: "1",
  draw: "X",
  away: "2",
  home_or_draw: "1X",
  home_or_away: "12",
  draw_or_away: "X2",
  over: "Over",
  under: "Under",
  yes: "Yes",
  no: "No",
  home_over: "Over",
  home_under: "Under",
  away_over: "Over",
  away_under: "Under",
};

const PHASE_LABELS = { pre_match: "Pre-match", in_play: "In play", half_time: "Half time", full_time: "Full time" };
const HIGHLIGHT_MS = 2_000;

function element(tag, { className, text, attrs } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
}

function formatLine(market) {
  if (market.line === null || market.line === undefined) return "";
  const line = Number(market.line);
  const text = market.type === "asian_handicap" && line > 0 ? `+${line}` : String(line);
  if (market.type === "team_total") {
    const side = market.selections[0]?.name.startsWith("away") ? "A" : "H";
    return `${side} ${text}`;
  }
  return text;
}

function formatPrice(price) {
  const value = Number(price);
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

// A book's markets may repeat a type and line (team_total: home 1.5 and away 1.5): the selections tell them apart.
function marketKey(market) {
  return `${market.type}|${market.line ?? ""}|${market.selections.map((s) => s.name).join(",")}`;
}

// Put `node` right after `previous` (first when null) in `parent`, touching only a node out of place: moving a
// node makes the browser lay its subtree out again, which on a board of 60 fixtures costs more than the update.
function placeAfter(parent, node, previous) {
  const expectedNext = previous ? previous.nextSibling : parent.firstChild;
  if (node !== expectedNext) parent.insertBefore(node, expectedNext);
  return node;
}

function groupStatus(markets) {
  if (markets.some((m) => m.status === "open")) return "open";
  if (markets.some((m) => m.status === "suspended")) return "suspended";
  return "closed";
}

// Books carry `revision` (every feed event and trader command raises it); older books fall back to `sequence`.
export function bookRevision(book) {
  return Number(book.revision ?? book.sequence ?? 0);
}

export class Board {
  constructor(container, { onCommand }) {
    this.container = container;
    this.onCommand = onCommand;
    this.fixtures = new Map(); // fixture_id -> { card, parts, groups, rows, revision }
    this.pending = new Map(); // fixture_id -> { book, receivedAt }: live books waiting for the next frame
    this.frameRequested = false;
    // The container outlives the board (each sign-in builds a new one on it): detach() removes these listeners,
    // or every earlier board would send each click's command again.
    this.listeners = new AbortController();
    const { signal } = this.listeners;
    container.addEventListener("click", (event) => this.#clicked(event), { signal });
    container.addEventListener("submit", (event) => this.#submitted(event), { signal });
  }

  /** Stop handling the container's clicks and submits: the board is done (the trader signed out). */
  detach() {
    this.listeners.abort();
  }

  get size() {
    return this.fixtures.size;
  }

  /** A fixture from the query API's list, before (or without) its book. */
  showFixture(summary) {
    const fixture = this.#fixture(summary.fixture_id);
    if (fixture.revision > Number(summary.revision ?? 0)) return;
    this.#header(fixture, summary);
  }

  /**
   * Queue a price message from the live feed and apply the queue at the next frame: a burst of books costs one
   * layout of the board, not one each, and only a fixture's newest queued book is kept.
   * `onApplied(count)` is called after each frame that changed the board.
   */
  queueBook(book, receivedAt, onApplied = () => {}) {
    if (!book || typeof book.fixture_id !== "string") return;
    const queued = this.pending.get(book.fixture_id);
    if (queued && bookRevision(queued.book) >= bookRevision(book)) return;
    this.pending.set(book.fixture_id, { book, receivedAt });
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const batch = [...this.pending.values()];
      this.pending.clear();
      const applied = batch.filter(({ book: next, receivedAt: at }) => this.applyBook(next, at)).length;
      if (applied) onApplied(applied);
    });
  }

  /** Apply a price message now; returns false when it is not newer than the book on screen. */
  applyBook(book, receivedAt = Date.now()) {
    if (!book || typeof book.fixture_id !== "string" || !Array.isArray(book.markets)) return false;
    const fixture = this.#fixture(book.fixture_id);
    const revision = bookRevision(book);
    if (fixture.hasBook && revision <= fixture.revision) return false;
    const highlight = fixture.hasBook; // the first book is not a change
    fixture.revision = revision;
    fixture.hasBook = true;
    this.#header(fixture, book, highlight);
    this.#markets(fixture, book.markets, highlight);
    fixture.card.dataset.revision = String(revision);
    // Epoch milliseconds: when the message arrived and when the board showed it (feed-to-screen latency).
    fixture.card.dataset.receivedAt = String(receivedAt);
    fixture.card.dataset.renderedAt = String(Date.now());
    return true;
  }

  marginInput(fixtureId, marketType) {
    return this.fixtures.get(fixtureId)?.groups.get(marketType)?.marginInput ?? null;
  }

  #fixture(fixtureId) {
    let fixture = this.fixtures.get(fixtureId);
    if (fixture) return fixture;
    const card = element("article", { className: "fixture", attrs: { "data-fixture-id": fixtureId, "data-status": "open" } });
    const home = element("span", { className: "team home" });
    const away = element("span", { className: "team away" });
    const score = element("span", { className: "score", attrs: { "aria-label": "score" } });
    const minute = element("span", { className: "minute" });
    const phase = element("span", { className: "phase" });
    const badge = element("span", { className: "status-badge", attrs: { role: "status" } });
    const headingId = `fixture-${fixtureId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const heading = element("h2", { className: "teams", attrs: { id: headingId, title: fixtureId } }, home, score, away);
    card.setAttribute("aria-labelledby", headingId);
    const actions = element(
      "div",
      { className: "fixture-actions" },
      this.#button("suspend", "Suspend all", "Suspend every market of this fixture"),
      this.#button("resume", "Resume all", "Resume every market of this fixture"),
    );
    const header = element(
      "header",
      { className: "fixture-head" },
      heading,
      element("div", { className: "meta" }, minute, phase, badge),
      actions,
    );
    const markets = element("div", { className: "markets" });
    card.append(header, markets);
    this.container.append(card);
    fixture = { card, parts: { home, away, score, minute, phase, badge }, markets, groups: new Map(), rows: new Map(), revision: -1, hasBook: false };
    this.fixtures.set(fixtureId, fixture);
    return fixture;
  }

  #button(action, label, description, marketType = null) {
    const attrs = { type: "button", "data-action": action, title: description, "aria-label": description };
    if (marketType) attrs["data-market-type"] = marketType;
    return element("button", { className: `command ${action}`, text: label, attrs });
  }

  #header(fixture, state, highlight = false) {
    const { parts, card } = fixture;
    parts.home.textContent = state.home_team ?? "";
    parts.away.textContent = state.away_team ?? "";
    const score = state.score ? `${state.score.home} – ${state.score.away}` : "– –";
    if (highlight && parts.score.textContent !== score) this.#flash(parts.score, "score-changed");
    parts.score.textContent = score;
    parts.minute.textContent = state.phase === "in_play" ? `${Math.floor(Number(state.minute ?? 0))}'` : "";
    // In play, the minute says it all; other phases are named (Pre-match, Half time, Full time).
    parts.phase.textContent = state.phase === "in_play" ? "" : (PHASE_LABELS[state.phase] ?? state.phase ?? "");
    const status = state.status ?? "open";
    card.dataset.status = status;
    card.dataset.phase = state.phase ?? "";
    parts.badge.textContent = status === "open" ? "" : status.toUpperCase();
  }

  #group(fixture, type) {
    let group = fixture.groups.get(type);
    if (group) return group;
    const fixtureId = fixture.card.dataset.fixtureId;
    const inputId = `margin-${fixtureId}-${type}`.replace(/[^A-Za-z0-9_-]/g, "_");
    const marginInput = element("input", {
      className: "margin-input",
      attrs: { id: inputId, name: "margin", type: "number", step: "0.1", min: "0", inputmode: "decimal", placeholder: "mgn %" },
    });
    const marginForm = element(
      "form",
      { className: "margin-form", attrs: { "data-market-type": type } },
      element("label", { className: "visually-hidden", text: "Margin %", attrs: { for: inputId } }),
      marginInput,
      element("button", { className: "command set-margin", text: "Set", attrs: { type: "submit", "aria-label": `Set the ${MARKET_LABELS[type] ?? type} margin` } }),
    );
    const badge = element("span", { className: "status-badge" });
    const rows = element("div", { className: "market-rows" });
    const section = element(
      "section",
      { className: "market-group", attrs: { "data-market-type": type, "data-status": "open" } },
      element(
        "div",
        { className: "group-head" },
        element("h3", { text: MARKET_LABELS[type] ?? type }),
        badge,
        element(
          "div",
          { className: "group-actions" },
          this.#button("suspend", "Susp", `Suspend ${MARKET_LABELS[type] ?? type}`, type),
          this.#button("resume", "Resume", `Resume ${MARKET_LABELS[type] ?? type}`, type),
          marginForm,
        ),
      ),
      rows,
    );
    group = { section, badge, rows, marginInput };
    fixture.groups.set(type, group);
    return group;
  }

  #markets(fixture, markets, highlight) {
    const byType = new Map();
    for (const market of markets) {
      if (!byType.has(market.type)) byType.set(market.type, []);
      byType.get(market.type).push(market);
    }
    const seen = new Set();
    let previousGroup = null;
    const orderedTypes = [...MARKET_TYPES.filter((t) => byType.has(t)), ...[...byType.keys()].filter((t) => !MARKET_TYPES.includes(t))];
    for (const type of orderedTypes) {
      const group = this.#group(fixture, type);
      const typeMarkets = byType.get(type);
      const status = groupStatus(typeMarkets);
      group.section.dataset.status = status;
      group.badge.textContent = { open: "", suspended: "SUSP", closed: "CLOSED" }[status] ?? status.toUpperCase();
      let previousRow = null;
      for (const market of typeMarkets) {
        const key = marketKey(market);
        seen.add(key);
        const row = this.#row(fixture, key, market);
        this.#updateRow(row, market, highlight);
        previousRow = placeAfter(group.rows, row.node, previousRow);
      }
      previousGroup = placeAfter(fixture.markets, group.section, previousGroup);
    }
    for (const [key, row] of fixture.rows) {
      if (!seen.has(key)) {
        row.node.remove();
        fixture.rows.delete(key);
      }
    }
    for (const [type, group] of fixture.groups) {
      if (!byType.has(type)) group.section.remove();
    }
  }

  #row(fixture, key, market) {
    let row = fixture.rows.get(key);
    if (row) return row;
    const node = element("div", {
      className: `market${market.type === "correct_score" ? " wide" : ""}`,
      attrs: { "data-market-type": market.type, "data-line": market.line ?? "", "data-status": market.status },
    });
    node.append(element("span", { className: "line", text: formatLine(market) }));
    row = { node, cells: new Map() };
    fixture.rows.set(key, row);
    return row;
  }

  #updateRow(row, market, highlight) {
    row.node.dataset.status = market.status;
    for (const selection of market.selections) {
      let cell = row.cells.get(selection.name);
      if (!cell) {
        const price = element("span", { className: "price" });
        const node = element(
          "span",
          { className: "selection", attrs: { "data-selection": selection.name } },
          element("span", { className: "name", text: SELECTION_LABELS[selection.name] ?? selection.name }),
          price,
        );
        row.node.append(node);
        cell = { node, price, value: null };
        row.cells.set(selection.name, cell);
      }
      const value = Number(selection.price);
      if (highlight && cell.value !== null && value !== cell.value) {
        this.#flash(cell.node, value > cell.value ? "price-up" : "price-down");
      }
      cell.value = value;
      cell.node.dataset.price = String(value);
      cell.price.textContent = formatPrice(value);
    }
  }

  #flash(node, className) {
    // No forced reflow to restart an animation: with hundreds of cells a book, that would lay the page out
    // once per changed price. The highlight simply lasts HIGHLIGHT_MS from the latest change.
    node.classList.remove("price-up", "price-down", "score-changed");
    node.classList.add(className);
    clearTimeout(node._flashTimer);
    node._flashTimer = setTimeout(() => node.classList.remove(className), HIGHLIGHT_MS);
  }

  #clicked(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.container.contains(button)) return;
    const card = button.closest("[data-fixture-id]");
    const command = { command: button.dataset.action };
    if (button.dataset.marketType) command.market_type = button.dataset.marketType;
    this.onCommand(card.dataset.fixtureId, command, button);
  }

  #submitted(event) {
    const form = event.target.closest("form.margin-form");
    if (!form) return;
    event.preventDefault();
    const card = form.closest("[data-fixture-id]");
    const input = form.querySelector("input");
    const percent = input.value.trim() === "" ? NaN : Number(input.value);
    // The API checks the range and names the field; the console only turns percent into a fraction.
    const margin = Number.isFinite(percent) ? Math.round(percent * 1000) / 100000 : input.value;
    this.onCommand(card.dataset.fixtureId, { command: "set_margin", market_type: form.dataset.marketType, margin }, form.querySelector("button"), input);
  }
}
