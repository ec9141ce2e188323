// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { BlockRenderer, BlockSplitter, renderMarkdown, splitBlocks } from "./markdown";

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

  it("keeps only what Markdown makes: nothing can overlay the app", () => {
    const attack = [
      "<dialog open>Your session expired. Type your key:</dialog>",
      "<div popover>over everything</div>",
      "<p class=\"modal\" id=\"app\">styled</p>",
      "<map><area href=\"https://evil.example\" shape=\"rect\"></map>",
      "<details open><summary>s</summary>x</details>",
      "<span data-x=\"1\" aria-hidden=\"true\">hidden</span>",
      "<marquee>m</marquee>",
    ].join("\n\n");
    const html = renderMarkdown(attack).toLowerCase();
    for (const bad of ["<dialog", "popover", "class=", "id=", "<area", "href=", "<details", "data-x", "aria-hidden", "<marquee", "<span", "<div", "<map"]) {
      expect(html).not.toContain(bad);
    }
    expect(html).toContain("your session expired");
    const table = renderMarkdown("| a | b |\n|:-|-:|\n| 1 | 2 |\n\n3. three");
    expect(table).toContain("<table>");
    expect(table).toContain('align="right"');
    expect(table).toContain('<ol start="3">');
  });

  it("a long unclosed code block re-renders only its last lines as it grows", () => {
    const splitter = new BlockSplitter();
    let text = "Here is the code:\n\n```js\n";
    let previous: string[] = [];
    let rerendered = 0;
    for (let i = 0; i < 2000; i++) {
      text += `const line${i} = ${i};\n`;
      const blocks = splitter.update(text);
      // Every block finished before is exactly as it was (cached); only the newest is small.
      previous.slice(0, -1).forEach((b, j) => expect(blocks[j]).toBe(b));
      rerendered += blocks[blocks.length - 1].length;
      previous = blocks;
    }
    expect(previous.join("\n").length).toBeGreaterThan(40_000);
    // Re-rendering the whole open block each time would be ~2000 × 40 kB / 2 = 40 MB.
    expect(rerendered).toBeLessThan(2_000 * 1_000);
    const html = renderMarkdown(previous[1]);
    expect(html).toContain("<pre><code");
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
