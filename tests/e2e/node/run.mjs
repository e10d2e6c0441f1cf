// For tests/e2e/test_interop.py: import the snippet module named by argv[2], run one of
// its functions with the {call, args} read as JSON from stdin, print {ok} or {error}.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const snippet = await import(pathToFileURL(process.argv[2]).href)
const { call, args } = JSON.parse(readFileSync(0, 'utf8'))
try {
  process.stdout.write(JSON.stringify({ ok: await snippet[call](...args) }))
} catch (error) {
  process.stdout.write(JSON.stringify({ error: `${error.code ?? error.name}: ${error.message}` }))
}
