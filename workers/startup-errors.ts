import { TesselError, isTesselError } from '../core/errors';
import type { TemporalSettings } from '../core/config/temporal';

/**
 * Turns what the Temporal SDK throws while a worker connects (tonic transport errors, gRPC statuses)
 * into one line that names the setting to fix, so a worker that cannot start says why in its last log
 * line (what `kubectl logs --previous` and the pod's termination message show) instead of a Rust debug
 * dump. Unknown errors keep their message, prefixed with the address.
 */
export function explainStartupError(e: unknown, t: TemporalSettings): Error {
  if (isTesselError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const at = `Temporal at ${t.address}`;
  const tls = t.tls ? (t.apiKey ? 'TLS (on because TEMPORAL_API_KEY is set)' : 'TLS (TEMPORAL_TLS_CERT/KEY)') : undefined;
  // The SDK's own text goes in `details`, not `cause`: the CLI prints a cause chain, and this line is the whole story.
  const fail = (why: string) => new TesselError('INVALID_CONFIG', why, { details: { sdkError: msg } });
  if (/Namespace .* (is not found|was not found)/i.test(msg)) {
    return fail(`namespace '${t.namespace}' does not exist on ${at} (TEMPORAL_NAMESPACE)`);
  }
  if (/ConnectionRefused|Connection refused/.test(msg)) return fail(`cannot reach ${at}: connection refused (TEMPORAL_ADDRESS; is the server up?)`);
  if (/dns error|failed to lookup address|Name or service not known/i.test(msg)) {
    return fail(`cannot reach ${at}: host name does not resolve (TEMPORAL_ADDRESS)`);
  }
  if (/timed? ?out|deadline/i.test(msg) && /connect|transport/i.test(msg)) return fail(`cannot reach ${at}: connection timed out (TEMPORAL_ADDRESS, firewall)`);
  if (/InvalidContentType|InvalidMessage|WrongVersion|CorruptMessage/.test(msg) && tls) {
    return fail(`${tls} handshake with ${at} failed: the server does not speak TLS there (plaintext port, or the wrong address)`);
  }
  if (/UnknownIssuer|InvalidCertificate|CaUsedAsEndEntity|invalid peer certificate|certificate verify failed|BadSignature|NotValidForName|CertExpired|UnknownCA/i.test(msg)) {
    return fail(`${at} presented a certificate this worker does not trust (${firstDetail(msg)}); set TEMPORAL_TLS_CA to the server's CA, or check TEMPORAL_ADDRESS`);
  }
  if (/CertificateRequired|BadCertificate|certificate required|AlertReceived|HandshakeFailure/i.test(msg)) {
    return fail(`${at} refused this worker's client certificate (${firstDetail(msg)}); check TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY`);
  }
  if (/Unauthenticated|PermissionDenied|Request unauthorized|invalid api key|unauthorized/i.test(msg)) {
    return fail(`${at} rejected the credentials for namespace '${t.namespace}' (${firstDetail(msg)}); check TEMPORAL_API_KEY or the client certificate`);
  }
  if (/tonic::transport|TransportError|h2 protocol error|broken pipe|connection reset/i.test(msg)) {
    return fail(`cannot talk to ${at}${tls ? ` over ${tls}` : ''}: ${firstDetail(msg)}`);
  }
  return fail(`${at}: ${firstDetail(msg)}`);
}

/** The first readable part of a transport error, without Rust's debug nesting. */
function firstDetail(msg: string): string {
  const quoted = /message: "([^"]+)"/.exec(msg) ?? /error: "([^"]+)"/.exec(msg) ?? /(?:InvalidCertificate\((?:Other\(OtherError\()?|AlertReceived\()([A-Za-z]+)/.exec(msg);
  return (quoted ? quoted[1] : msg).split('\n')[0].slice(0, 200);
}
