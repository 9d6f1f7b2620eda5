// Photo bytes to the server by tus 1.0 (tus-js-client), resumable across closed pages and dead
// batteries (DESIGN.md §5).
//
// The upload URL and the offset the server confirmed are written to IndexedDB ("uploads") as soon
// as tus knows them, so the next sync resumes with `uploadUrl`: tus-js-client then asks the
// server (HEAD) where it is and sends only the rest. tus-js-client's own URL storage (keyed by a
// fingerprint of name, size and date in localStorage) is not used: the photo's UUID is the key,
// in the same database as the photo.
//
// The chunk size adapts to the link as in field_client/chunking.py: 256 KiB at first, doubled
// after each chunk the server confirms (up to 8 MiB), halved after a cut. A fixed large chunk
// never gets through a link that drops every connection after ~200 KB; a fixed small one wastes a
// good link on round trips. tus-js-client reads `options.chunkSize` for every chunk, so changing
// it between chunks is enough.
import { Upload } from "tus-js-client";
import { FieldError, apiUrl, database, getConfig, nowUtc } from "./store.js";
import { sha256Hex } from "./digest.js";

export const CHUNK_START = 256 * 1024;
export const CHUNK_SMALLEST = 16 * 1024;
export const CHUNK_LARGEST = 8 * 1024 * 1024;
const PROBE_AFTER = 8; // good chunks at the ceiling before trying a larger one
export const RETRY_DELAYS = [1000, 3000, 10000];
const MAX_NEW_UPLOADS = 2; // the server refused the whole file (hash, content): start over, not forever

/** The chunk size of one sync run (one sizer for all its photos: what one learnt serves the next). */
export class ChunkSizer {
  constructor(fixed = null) {
    this.fixed = fixed;
    this.size = fixed || CHUNK_START;
    this.ceiling = fixed || CHUNK_LARGEST;
    this.goodAtCeiling = 0;
  }

  /** A chunk arrived whole: the next may be larger. */
  delivered() {
    if (this.fixed) return;
    if (this.size >= this.ceiling) {
      this.goodAtCeiling += 1;
      if (this.goodAtCeiling >= PROBE_AFTER && this.ceiling < CHUNK_LARGEST) {
        this.ceiling = Math.min(CHUNK_LARGEST, this.ceiling * 2);
        this.goodAtCeiling = 0;
      }
    }
    this.size = Math.min(this.ceiling, this.size * 2);
  }

  /** The connection died during a chunk: this size does not get through now. */
  cut() {
    if (this.fixed) return;
    this.ceiling = Math.max(CHUNK_SMALLEST, Math.floor(this.size / 2));
    this.size = this.ceiling;
    this.goodAtCeiling = 0;
  }
}

// A Blob as tus-js-client's file source, in browsers and in Node alike (tus-js-client's Node
// build accepts only Buffers and streams).
const blobReader = {
  openFile(blob) {
    return Promise.resolve({
      size: blob.size,
      slice(start, end) {
        return Promise.resolve({ value: blob.slice(start, end), done: end >= blob.size });
      },
      close() {},
    });
  },
};

/** tus-js-client's HTTP stack over fetch: where XMLHttpRequest is missing (Node, tests, workers). */
export class FetchHttpStack {
  createRequest(method, url) {
    return new FetchRequest(method, url);
  }

  getName() {
    return "FetchHttpStack";
  }
}

class FetchRequest {
  constructor(method, url) {
    this.method = method;
    this.url = url;
    this.headers = {};
    this.controller = new AbortController();
  }

  getMethod() { return this.method; }

  getURL() { return this.url; }

  setHeader(name, value) { this.headers[name] = value; }

  getHeader(name) { return this.headers[name]; }

  setProgressHandler() {}

  async send(body = null) {
    const response = await fetch(this.url, {
      method: this.method, headers: this.headers, body: body ?? undefined, signal: this.controller.signal,
      credentials: "omit",
    });
    const text = await response.text();
    return {
      getStatus: () => response.status,
      getHeader: (name) => response.headers.get(name) ?? undefined,
      getBody: () => text,
      getUnderlyingObject: () => response,
    };
  }

  abort() {
    this.controller.abort();
    return Promise.resolve();
  }

  getUnderlyingObject() { return this.controller; }
}

function defaultHttpStack() {
  // The browser's own stack (XMLHttpRequest) reports progress within a chunk; fetch cannot.
  return typeof XMLHttpRequest === "function" ? undefined : new FetchHttpStack();
}

async function saveUpload(photoUuid, values) {
  const db = await database();
  const tx = db.transaction("uploads", "readwrite");
  const held = (await tx.store.get(photoUuid)) ?? {
    photo_uuid: photoUuid, upload_url: null, offset: 0, uploaded_at: null, last_error: null,
  };
  await tx.store.put({ ...held, ...values, updated_at: nowUtc() });
  await tx.done;
}

export async function uploadState(photoUuid) {
  return (await (await database()).get("uploads", photoUuid)) ?? null;
}

/** Mark a photo as held by the server (it answered photo_received: the same bytes are there). */
export async function markReceived(photo) {
  await saveUpload(photo.uuid, { offset: photo.size, uploaded_at: nowUtc(), last_error: null });
}

function statusOf(error) {
  const response = error?.originalResponse;
  return response && typeof response.getStatus === "function" ? response.getStatus() : 0;
}

function failureMessage(photo, status) {
  const name = photo.original_name || "照片";
  if (status === 0) return `照片 ${name} 上传中断（网络不通或连接被切断），下次同步时从断点继续。`;
  if (status === 401) return "登录已失效，请重新登录后再同步照片。";
  if (status === 403) return `照片 ${name}：服务器拒绝上传（无权限）。`;
  if (status === 413) return `照片 ${name} 超过服务器允许的大小。`;
  if (status === 422) return `照片 ${name} 被服务器拒收（内容或 SHA-256 与记录不符）。`;
  return `照片 ${name} 上传失败，下次同步时重试。`;
}

function runUpload(photo, { token, sizer, url, onProgress, httpStack, retryDelays }) {
  let chain = Promise.resolve();
  const persist = (values) => {
    // In order, one after another: a late write must not put an older offset over a newer one.
    chain = chain.then(() => saveUpload(photo.uuid, values)).catch(() => {});
  };
  return new Promise((resolve) => {
    let upload;
    const options = {
      endpoint: apiUrl("/api/v1/uploads/"),
      uploadUrl: url || null,
      uploadSize: photo.size,
      chunkSize: sizer.size,
      retryDelays,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { sha256: photo.sha256, filename: photo.original_name || photo.filename, filetype: photo.media_type },
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: false,
      fileReader: blobReader,
      onUploadUrlAvailable() {
        persist({ upload_url: upload.url, last_error: null });
      },
      onProgress(sent, total) {
        onProgress?.(sent, total);
      },
      onChunkComplete(_chunk, accepted) {
        sizer.delivered();
        upload.options.chunkSize = sizer.size;
        persist({ upload_url: upload.url, offset: accepted });
      },
      onShouldRetry(error, _attempt, current) {
        const status = statusOf(error);
        if (status === 0) {
          sizer.cut();
          current.chunkSize = sizer.size;
        }
        if (globalThis.navigator && globalThis.navigator.onLine === false) return false;
        // A cut or a busy server is worth another try (tus-js-client resumes from HEAD); a
        // refusal is not.
        return status === 0 || status >= 500 || status === 409 || status === 423 || status === 460;
      },
      onSuccess() {
        chain.then(() => resolve({ ok: true, url: upload.url }));
      },
      onError(error) {
        chain.then(() => resolve({ ok: false, status: statusOf(error), url: upload.url, error }));
      },
    };
    const stack = httpStack ?? defaultHttpStack();
    if (stack) options.httpStack = stack;
    upload = new Upload(photo.blob, options);
    upload.start();
  });
}

/**
 * Upload one stored original, resuming where the server says it is. Resolves when the server has
 * every byte; FieldError otherwise (`network` true when out of reach or the login is refused:
 * the other photos would fare no better now).
 */
export async function uploadPhoto(photo, { sizer = new ChunkSizer(), onProgress = null, httpStack = null,
  retryDelays = RETRY_DELAYS } = {}) {
  const token = await getConfig("token");
  if (!token) throw Object.assign(new FieldError("尚未登录，请先登录。", { status: 401 }), { network: true });
  const name = photo.original_name || "照片";
  if (!(photo.blob && typeof photo.blob.arrayBuffer === "function")
    || photo.blob.size !== photo.size || (await sha256Hex(photo.blob)) !== photo.sha256) {
    const message = `本机照片 ${name} 缺失或已损坏（与记录的 SHA-256 不符），无法上传。`;
    await saveUpload(photo.uuid, { last_error: message });
    throw new FieldError(message);
  }
  let url = (await uploadState(photo.uuid))?.upload_url ?? null;
  for (let attempt = 0; attempt <= MAX_NEW_UPLOADS; attempt += 1) {
    const outcome = await runUpload(photo, { token, sizer, url, onProgress, httpStack, retryDelays });
    if (outcome.ok) {
      await saveUpload(photo.uuid, { upload_url: outcome.url, offset: photo.size, uploaded_at: nowUtc(), last_error: null });
      return;
    }
    const { status } = outcome;
    if (status === 404 || status === 410 || status === 422) {
      // Gone, expired, or the whole file refused (the server deleted it): a new upload.
      url = null;
      await saveUpload(photo.uuid, { upload_url: null, offset: 0, last_error: failureMessage(photo, status) });
      continue;
    }
    const message = failureMessage(photo, status);
    await saveUpload(photo.uuid, { last_error: message });
    const failure = new FieldError(message, { status });
    failure.network = status === 0 || status === 401 || status >= 500;
    throw failure;
  }
  const message = `照片 ${name} 多次被服务器拒收，请检查照片后重试。`;
  await saveUpload(photo.uuid, { last_error: message });
  throw new FieldError(message, { status: 422 });
}
