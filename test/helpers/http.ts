import { request } from 'node:http';

/** A raw request without Content-Length (chunked), which fetch cannot send from a Buffer. */
export function chunkedRequest(
  url: string,
  method: string,
  data: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'Transfer-Encoding': 'chunked' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.write(data.subarray(0, 10));
    req.end(data.subarray(10));
  });
}

export const chunkedPut = (url: string, data: Buffer, headers: Record<string, string>) =>
  chunkedRequest(url, 'PUT', data, headers);
