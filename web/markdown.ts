/**
 * Replies as Markdown, rendered by markdown-it with raw HTML off: any HTML the model
 * writes is shown as text, never parsed. Links go only to http(s) and mailto (others,
 * `javascript:` included, stay plain text) and open in a new tab that cannot reach
 * this one (rel=noopener); images stay links (nothing is loaded from other hosts);
 * each code block gets a copy button.
 */
import MarkdownIt from 'markdown-it';
import { el } from './dom';

const SAFE_LINK = /^(https?:|mailto:)/i;

const md = new MarkdownIt({ html: false, linkify: true, breaks: true });
// markdown-it's own check refuses javascript:, vbscript:, file: and most data: URLs;
// an allowlist also refuses schemes no one has thought of yet.
md.validateLink = (url) => SAFE_LINK.test(url.trim());
md.disable('image');
// Table alignment comes as style="text-align:..." attributes, which the page's CSP
// (style-src 'self') refuses: give it as a class instead.
md.core.ruler.push('align_as_class', (state) => {
  for (const token of state.tokens) {
    const align = /text-align:(left|center|right)/.exec(String(token.attrGet('style') ?? ''))?.[1];
    if (!align) continue;
    token.attrs = token.attrs?.filter(([name]) => name !== 'style') ?? null;
    token.attrJoin('class', `align-${align}`);
  }
});
md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  const token = tokens[idx];
  token?.attrSet('target', '_blank');
  token?.attrSet('rel', 'noopener noreferrer');
  return self.renderToken(tokens, idx, options);
};

/** Renders `text` as Markdown into `target`, replacing what it held. */
export function renderMarkdown(target: HTMLElement, text: string): void {
  // Trimmed: no stray newline text after the last block.
  target.innerHTML = md.render(text).trim();
  for (const pre of target.querySelectorAll('pre')) addCopyButton(pre);
}

/** A code block gets a bar above it: its language (when given) and a copy button. */
function addCopyButton(pre: HTMLPreElement): void {
  const language = /\blanguage-(\S+)/.exec(pre.querySelector('code')?.className ?? '')?.[1] ?? '';
  const button = el('button', { type: 'button', class: 'copy', 'aria-label': 'Copy code' }, 'Copy');
  button.addEventListener('click', () => void copy(pre, button));
  const block = el('div', { class: 'code-block' });
  pre.replaceWith(block);
  block.append(el('div', { class: 'code-bar' }, el('span', {}, language), button), pre);
}

async function copy(pre: HTMLPreElement, button: HTMLButtonElement): Promise<void> {
  const code = pre.textContent ?? '';
  try {
    await navigator.clipboard.writeText(code);
    button.textContent = 'Copied';
  } catch {
    // No clipboard (a page not served over https or from localhost): select the code
    // so the keyboard's copy takes it.
    getSelection()?.selectAllChildren(pre);
    button.textContent = 'Press Ctrl+C';
  }
  setTimeout(() => (button.textContent = 'Copy'), 2000);
}
