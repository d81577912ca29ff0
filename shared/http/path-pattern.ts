/**
 * Compiles a route path (docs/api.md) such as `/api/v1/users/{user}/jobs/{job}:heartbeat`.
 * A {param} matches up to the next `/` or `:`, so literal colon verbs stay literal.
 * A final {param+} matches the rest of the path, slashes included (WebDAV file paths).
 */
export interface PathPattern {
  regex: RegExp;
  params: string[];
  match(path: string): Record<string, string> | null;
}

export function compilePath(template: string): PathPattern {
  const params: string[] = [];
  let source = '';
  let rest = template;
  for (;;) {
    const open = rest.indexOf('{');
    if (open < 0) {
      source += escapeLiteral(rest);
      break;
    }
    const close = rest.indexOf('}', open);
    if (close < 0) throw new Error(`unclosed { in path ${template}`);
    const raw = rest.slice(open + 1, close);
    const greedy = raw.endsWith('+');
    const name = greedy ? raw.slice(0, -1) : raw;
    if (!/^[a-z_]+$/.test(name)) throw new Error(`bad parameter name "${name}" in path ${template}`);
    if (params.includes(name)) throw new Error(`parameter {${name}} twice in path ${template}`);
    if (greedy && close !== rest.length - 1) throw new Error(`{${name}+} must end the path ${template}`);
    params.push(name);
    source += escapeLiteral(rest.slice(0, open)) + (greedy ? '(.+)' : '([^/:]+)');
    rest = rest.slice(close + 1);
  }
  const regex = new RegExp(`^${source}$`);
  return {
    regex,
    params,
    match(path) {
      const m = regex.exec(path);
      if (!m) return null;
      const out: Record<string, string> = {};
      params.forEach((name, i) => {
        out[name] = m[i + 1] ?? '';
      });
      return out;
    },
  };
}

function escapeLiteral(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The parameters a path string names, as a type: `PathParams<'/users/{user}/jobs/{job}'>` is
 * `{ user: string; job: string }` ({path+} names `path`); a path only known as `string` gives any name.
 */
export type PathParams<P extends string> = string extends P ? Record<string, string> : Flat<ParamsIn<P>>;
type ParamsIn<P extends string> = P extends `${string}{${infer Param}}${infer Rest}` ? { [K in Param extends `${infer N}+` ? N : Param]: string } & ParamsIn<Rest> : unknown;
type Flat<T> = { [K in keyof T]: T[K] };
