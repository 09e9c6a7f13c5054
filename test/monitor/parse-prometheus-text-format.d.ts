declare module 'parse-prometheus-text-format' {
  /** One family as prom2json renders it; values are strings. */
  export interface ParsedFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'HISTOGRAM' | 'UNTYPED';
    metrics: Array<{
      value?: string;
      labels?: Record<string, string>;
      quantiles?: Record<string, string>;
      count?: string;
      sum?: string;
    }>;
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
