/**
 * Just enough HTML reading for the explorer's tests (no DOM library is installed): the text of the element
 * carrying an attribute, found by counting nested tags of the same name.
 */

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'" };

export function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (entity) => ENTITIES[entity]);
}

/** The inner HTML of the first element whose start tag contains `attribute` (e.g. `data-testid="x"`). */
export function innerHtml(html: string, attribute: string): string | undefined {
  const at = html.indexOf(attribute);
  if (at < 0) return undefined;
  const start = html.lastIndexOf("<", at);
  const tag = /^<([a-zA-Z0-9]+)/.exec(html.slice(start))?.[1];
  if (!tag) return undefined;
  const contentStart = html.indexOf(">", at) + 1;
  const pattern = new RegExp(`<(/?)${tag}(?=[\\s>/])[^>]*>`, "g");
  pattern.lastIndex = contentStart;
  let depth = 1;
  for (let match = pattern.exec(html); match; match = pattern.exec(html)) {
    depth += match[1] === "/" ? -1 : 1;
    if (depth === 0) return html.slice(contentStart, match.index);
  }
  return undefined;
}

/** The visible text of that element: phrase tags dropped, other tags read as a space, entities decoded, white space collapsed. */
export function textOf(html: string, attribute: string): string | undefined {
  const inner = innerHtml(html, attribute);
  if (inner === undefined) return undefined;
  return decodeEntities(inner.replace(/<\/?(strong|em|b|a|code|wbr)\b[^>]*>/g, "").replace(/<[^>]+>/g, " "))
    .replace(/\s+/g, " ")
    .trim();
}

export function testId(html: string, id: string): string | undefined {
  return textOf(html, `data-testid="${id}"`);
}
