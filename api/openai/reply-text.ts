/**
 * The text an OpenAI-door client holds of a reply whose LLM call may be retried: the
 * diverging-retry rule shared by the Chat Completions and the Responses renderings
 * (docs/API.md "OpenAI-compatible API").
 *
 * After a `restart` (a new attempt), the attempt's text is compared with what the client
 * already has. While it repeats that text, nothing is new; once it goes further, only
 * the new part is. If it says something else, the client's text cannot be made whole
 * without taking some back: {@link ReplyText.extend} answers undefined and the caller
 * ends its rendering.
 */
export class ReplyText {
  /** Text the client has been given (by this rendering, from the first event on). */
  sent = '';
  /** Text of the current attempt after a `restart`; undefined before any restart. */
  private attempt: string | undefined;

  /** A new LLM attempt begins (a `restart` event). */
  restart(): void {
    this.attempt = '';
  }

  /** The current attempt's text so far (what the reply says now). */
  get current(): string {
    return this.attempt ?? this.sent;
  }

  /** The new text a delta gives the client: '' when repeated, undefined when it diverges. */
  extend(piece: string): string | undefined {
    if (this.attempt === undefined) {
      this.sent += piece;
      return piece;
    }
    this.attempt += piece;
    if (this.attempt.length <= this.sent.length)
      return this.sent.startsWith(this.attempt) ? '' : undefined;
    if (!this.attempt.startsWith(this.sent)) return undefined;
    const fresh = this.attempt.slice(this.sent.length);
    this.sent = this.attempt;
    return fresh;
  }

  /** What the final reply adds to the client's text: '' nothing, undefined when it diverges. */
  finish(content: string): string | undefined {
    if (this.sent === content) return '';
    if (!content.startsWith(this.sent)) return undefined;
    const rest = content.slice(this.sent.length);
    this.sent = content;
    return rest;
  }
}
