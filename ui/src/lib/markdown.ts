// Model output is untrusted and this window can call the app's commands, so Markdown is rendered
// by `marked` and then sanitized by DOMPurify: no scripts, handlers, frames, forms, styles or
// images, and links lose their address (shown as a tooltip) so nothing navigates the window away.
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

export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return purifier().sanitize(html, {
    FORBID_TAGS: ["style", "iframe", "frame", "object", "embed", "form", "input", "button", "textarea", "select", "img", "video", "audio", "svg", "math", "link", "meta", "base"],
    FORBID_ATTR: ["style", "srcset", "action", "formaction"],
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
    return [...this.done, ...tail.slice(-1)];
  }
}
