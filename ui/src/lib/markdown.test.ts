// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { BlockRenderer, renderMarkdown, splitBlocks } from "./markdown";

describe("rendering model output", () => {
  it("renders Markdown", () => {
    const html = renderMarkdown("# Title\n\n- **one**\n- two");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<strong>one</strong>");
  });

  it("removes everything that could run or navigate", () => {
    const attack = [
      "<img src=x onerror=alert(1)>",
      "<script>window.__pwned = 1</script>",
      "[click](javascript:alert(1))",
      "<a href=\"https://evil.example\">x</a>",
      "<iframe src=\"https://evil.example\"></iframe>",
      "<div onclick=\"alert(1)\" style=\"position:fixed\">d</div>",
      "<svg><script>alert(1)</script></svg>",
      "<form action=\"https://evil.example\"><button>go</button></form>",
    ].join("\n\n");
    const html = renderMarkdown(attack);
    for (const bad of ["<script", "onerror", "onclick", "javascript:", "<iframe", "<img", "<svg", "<form", "<button", "style=", "href="]) {
      expect(html.toLowerCase()).not.toContain(bad);
    }
    expect(html).toContain("click");
  });

  it("splits at blank lines but never inside a code fence", () => {
    expect(splitBlocks("a\n\nb\n\n\nc")).toEqual(["a", "b", "c"]);
    expect(splitBlocks("x\n\n```\ncode\n\nmore\n```\n\ny")).toEqual(["x", "```\ncode\n\nmore\n```", "y"]);
    expect(splitBlocks("```\nopen\n\nstill")).toEqual(["```\nopen\n\nstill"]);
  });

  it("renders each finished block once", () => {
    const r = new BlockRenderer();
    const a = r.render("para one");
    expect(r.render("para one")).toBe(a);
  });
});

describe("splitting text as it streams", async () => {
  const { BlockSplitter } = await import("./markdown");
  it("gives the same blocks as splitting the whole text, however it arrives", () => {
    const text = "# Title\n\nOne para.\n\n```\ncode\n\nstill code\n```\n\n- a\n- b\n\n\nLast words without end";
    for (const size of [1, 2, 3, 7, 13, 40, text.length]) {
      const s = new BlockSplitter();
      let got: string[] = [];
      for (let i = size; i < text.length + size; i += size) got = s.update(text.slice(0, i));
      expect(got, `chunks of ${size}`).toEqual(splitBlocks(text));
    }
  });

  it("starts afresh when the text is replaced", () => {
    const s = new BlockSplitter();
    s.update("a\n\nb");
    expect(s.update("x\n\ny")).toEqual(["x", "y"]);
  });
});
