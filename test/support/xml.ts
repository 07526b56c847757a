/**
 * A strict XML well-formedness check for the SVG charts (no XML parser is among the dependencies): one root element,
 * every tag closed in order, attributes quoted and unique, only the five predefined entities or character
 * references, no stray '<' or '&' in text. Returns the problems (empty when well-formed) and the element names seen.
 */
export function checkXml(doc: string): { problems: string[]; elements: string[] } {
  const problems: string[] = [];
  const elements: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const entities = (s: string, at: number) => {
    if (s.includes("<")) problems.push(`stray '<' at ${at}`);
    for (const m of s.matchAll(/&([^;\s]*);?/g)) {
      if (!/^(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(m[1]!) || !m[0].endsWith(";")) problems.push(`bad entity '${m[0]}' at ${at}`);
    }
  };
  const text = (s: string, at: number) => {
    entities(s, at);
    if (!stack.length && s.trim()) problems.push(`text outside the root at ${at}`);
  };
  while (i < doc.length) {
    const lt = doc.indexOf("<", i);
    if (lt < 0) {
      text(doc.slice(i), i);
      break;
    }
    text(doc.slice(i, lt), i);
    if (doc.startsWith("<?", lt)) {
      const end = doc.indexOf("?>", lt);
      if (end < 0) return { problems: [...problems, "unclosed processing instruction"], elements };
      i = end + 2;
      continue;
    }
    if (doc.startsWith("<!--", lt)) {
      const end = doc.indexOf("-->", lt);
      if (end < 0) return { problems: [...problems, "unclosed comment"], elements };
      i = end + 3;
      continue;
    }
    const gt = doc.indexOf(">", lt);
    if (gt < 0) return { problems: [...problems, `unclosed tag at ${lt}`], elements };
    const tag = doc.slice(lt + 1, gt);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? "nothing"}> at ${lt}`);
    } else {
      const selfClosing = tag.endsWith("/");
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*$/.exec(body);
      if (!m) {
        problems.push(`malformed tag <${tag.slice(0, 60)}> at ${lt}`);
      } else {
        const names = [...m[2]!.matchAll(/([A-Za-z_][\w:.-]*)\s*=/g)].map((a) => a[1]!);
        if (new Set(names).size !== names.length) problems.push(`repeated attribute in <${m[1]}> at ${lt}`);
        for (const a of m[2]!.matchAll(/=\s*("[^"]*"|'[^']*')/g)) entities(a[1]!.slice(1, -1), lt);
        elements.push(m[1]!);
        if (!stack.length) roots++;
        if (!selfClosing) stack.push(m[1]!);
      }
    }
    i = gt + 1;
  }
  if (stack.length) problems.push(`unclosed <${stack.join("> <")}>`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return { problems, elements };
}
