// Model output is untrusted and this window can call the app's commands, so Markdown is rendered
// by `marked` and then sanitized by DOMPurify against an allow-list: only the tags and attributes
// Markdown itself produces survive (no scripts, handlers, frames, forms, styles, images, classes,
// ids, dialogs or popovers that could overlay the app), and links lose their address (shown as a
// tooltip) so nothing navigates the window away.
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false, async: false });

let hooked = false;
function purifier() {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        const href = node.getAttribute("href");
        node.removeAttribute("href");
        if (href) node.setAttribute("title", href);
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

/** What Markdown renders to; everything else is dropped (its text kept where it has some). */
const ALLOWED_TAGS = [
  "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "pre", "code",
  "em", "strong", "del", "s", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub", "kbd",
];
/** `href` only so the hook can turn it into a tooltip; `align` for table columns, `start` for lists. */
const ALLOWED_ATTR = ["href", "title", "align", "start"];

export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return purifier().sanitize(html, {
    ALLOWED_TAGS, ALLOWED_ATTR, ALLOW_DATA_ATTR: false, ALLOW_ARIA_ATTR: false,
  });
}

/**
 * Splits streaming text into Markdown blocks (at blank lines, never inside a code fence) so that
 * finished blocks render once and only the last one re-renders as text arrives: the work per
 * frame stays small however long the answer gets.
 */
export function splitBlocks(text: string): string[] {
  const parts = text.split(/\n{2,}/);
  const blocks: string[] = [];
  let open = "";
  for (const p of parts) {
    const joined = open ? `${open}\n\n${p}` : p;
    if ((joined.match(/^```/gm)?.length ?? 0) % 2 === 1) {
      open = joined; // inside a fence: keep going
    } else {
      blocks.push(joined);
      open = "";
    }
  }
  if (open) blocks.push(open);
  return blocks;
}

/** Caches rendered blocks; a long stream re-renders only its last block. */
export class BlockRenderer {
  private cache = new Map<string, string>();

  render(block: string): string {
    let html = this.cache.get(block);
    if (html === undefined) {
      html = renderMarkdown(block);
      this.cache.set(block, html);
      if (this.cache.size > 5_000) this.cache.clear();
    }
    return html;
  }
}

/** Lines of an unfinished code block rendered together; only the last such piece re-renders. */
const FENCE_PIECE_LINES = 40;

/**
 * A block that ends inside an open code fence, as pieces: the text before the fence, then the
 * fence's lines in groups, each group its own code block. A long code block that is still
 * streaming re-renders only its last group each frame, not everything since the fence opened.
 */
export function splitOpenFence(block: string): string[] {
  const lines = block.split("\n");
  let opener = -1;
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].startsWith("```")) { opener = i; break; }
  if (opener < 0) return [block];
  const head = lines.slice(0, opener).join("\n").trimEnd();
  const fence = lines[opener];
  const body = lines.slice(opener + 1);
  const pieces: string[] = head ? [head] : [];
  for (let i = 0; i < body.length || i === 0; i += FENCE_PIECE_LINES) {
    pieces.push(`${fence}\n${body.slice(i, i + FENCE_PIECE_LINES).join("\n")}`);
  }
  return pieces;
}

function isOpenFence(block: string): boolean {
  return (block.match(/^```/gm)?.length ?? 0) % 2 === 1;
}

/**
 * `splitBlocks` for text that only grows: blocks before the last are finished and kept, so each
 * update splits just the new tail. Text that does not extend the previous one starts afresh.
 */
export class BlockSplitter {
  private done: string[] = [];
  private doneLength = 0; // characters of the text covered by `done`, blank lines included
  private seen = "";

  update(text: string): string[] {
    if (!this.seen || !text.startsWith(this.seen)) {
      this.done = [];
      this.doneLength = 0;
    }
    this.seen = text;
    // After a finished block, more blank lines are still separators (they may arrive later).
    if (this.done.length) while (text[this.doneLength] === "\n") this.doneLength++;
    const tail = splitBlocks(text.slice(this.doneLength));
    for (const b of tail.slice(0, -1)) {
      this.done.push(b);
      let at = text.indexOf(b, this.doneLength) + b.length;
      while (text[at] === "\n") at++;
      this.doneLength = at;
    }
    const last = tail.slice(-1);
    const open = last.length && isOpenFence(last[0]) ? splitOpenFence(last[0]) : last;
    return [...this.done, ...open];
  }
}
