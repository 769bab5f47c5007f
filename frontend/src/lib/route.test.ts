import { describe, expect, it } from "vitest";
import { errorMessage, progressSocketUrl } from "./api";
import { sortRows } from "./format";
import { parseHash, parseStudyId, routeHash, symbolSlug } from "./route";

describe("hash routes", () => {
  it("round-trips every view", () => {
    for (const r of [
      { view: "leaderboard" as const, sort: "pbo", dir: "desc" as const, verdict: undefined },
      { view: "leaderboard" as const, sort: undefined, dir: undefined, verdict: "robust,fragile" },
      { view: "study" as const, id: "ema_cross.BTC-USD.1h" },
      { view: "submit" as const, study: "ema_cross.BTC-USD.1h", run: "abc" },
      { view: "bars" as const, symbol: "ETH-USD", tf: "4h" },
    ]) {
      expect(parseHash(routeHash(r))).toEqual(r);
    }
  });

  it("defaults to the leaderboard and flags unknown paths", () => {
    expect(parseHash("")).toEqual({ view: "leaderboard", sort: undefined, dir: undefined, verdict: undefined });
    expect(parseHash("#/nowhere")).toEqual({ view: "notfound", path: "/nowhere" });
  });

  it("parses study ids", () => {
    expect(parseStudyId("ema_cross.BTC-USD.1h")).toEqual({ strategy: "ema_cross", slug: "BTC-USD", timeframe: "1h" });
    expect(parseStudyId("garbage")).toBeNull();
    expect(symbolSlug("BTC/USD")).toBe("BTC-USD");
  });
});

describe("api helpers", () => {
  it("reads FastAPI error details", () => {
    expect(errorMessage(503, { detail: "no Dagster" })).toBe("no Dagster");
    expect(errorMessage(422, { detail: [{ loc: ["path", "tid"], msg: "bad id" }] })).toBe("path.tid: bad id");
    expect(errorMessage(422, { detail: [{ loc: ["body", "symbol"], msg: "unknown" }] })).toBe("symbol: unknown");
    expect(errorMessage(500, null)).toBe("HTTP 500");
  });

  it("builds the progress socket URL", () => {
    expect(progressSocketUrl({ protocol: "http:", host: "h:1" }, "a.B-C.1h", "r1")).toBe(
      "ws://h:1/api/v2/optimization/a.B-C.1h/progress?run_id=r1",
    );
    expect(progressSocketUrl({ protocol: "https:", host: "h" }, "a.B-C.1h")).toMatch(/^wss:\/\/h\//);
  });

  it("sorts rows with nulls last", () => {
    const rows = [{ v: 2 }, { v: null }, { v: 1 }];
    expect(sortRows(rows, "v", "asc").map((r) => r.v)).toEqual([1, 2, null]);
    expect(sortRows(rows, "v", "desc").map((r) => r.v)).toEqual([2, 1, null]);
  });
});
