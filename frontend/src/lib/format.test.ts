import { describe, expect, it } from "vitest";
import { fmtBy, fmtCount, materializingText } from "./format";

describe("fmtBy formats a value by the API column's format", () => {
  it("renders ratios, percents and counts", () => {
    expect(fmtBy("ratio", 1.23456)).toBe("1.23");
    expect(fmtBy("percent", -0.1234)).toBe("-12.3%");
    expect(fmtBy("count", 1234.0)).toBe("1,234");
    expect(fmtBy("text", "ema_cross")).toBe("ema_cross");
  });

  it("shows a dash for missing or non-finite numbers", () => {
    expect(fmtBy("ratio", null)).toBe("—");
    expect(fmtBy("percent", Number.NaN)).toBe("—");
    expect(fmtCount(undefined)).toBe("—");
    expect(fmtBy("count", "not a number")).toBe("—");
  });
});

describe("materializingText tells how far the graph is", () => {
  const health = { status: "ok" as const, data_dir: "", lake_exchange: "sample", symbols: [], timeframes: [], leaderboard: false };
  it("counts published studies while some are missing", () => {
    expect(materializingText({ ...health, studies_published: 3, studies_expected: 44, studies_running: 2 })).toBe(
      "materializing: 3 of 44 studies (2 running)",
    );
  });
  it("is gone once every study is published", () => {
    expect(materializingText({ ...health, studies_published: 44, studies_expected: 44, studies_running: 0 })).toBeNull();
    expect(materializingText(undefined)).toBeNull();
  });
});
