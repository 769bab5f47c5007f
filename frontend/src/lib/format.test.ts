import { describe, expect, it } from "vitest";
import { fmtBy, fmtCount } from "./format";

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
