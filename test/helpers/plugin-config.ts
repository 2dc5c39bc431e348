// A gateway config for plugin tests: loopback listener and admin on port 0, one upstream, the
// given plugins (paths relative to the config file) and whatever `extra` YAML follows.
export function pluginConfig(upstreamUrl: string, extra: string, plugins: readonly string[], level = 'silent'): string {
  return `
accessLog: false
log: { level: ${level} }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
plugins: ${JSON.stringify(plugins)}
services:
  up: { targets: [{ url: "${upstreamUrl}" }] }
${extra}`;
}
