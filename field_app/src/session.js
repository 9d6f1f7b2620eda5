// Who is using the phone: log in for a device token, and log out only when nothing is lost.
//
// The app keeps a device token (revocable on the server), never the password. Logging out wipes
// the whole local store, revealed targets included: on a shared or lost phone nothing of a visit
// may remain. Work not yet on the server would be lost with it, so logout refuses unless forced.
import {
  FieldError, getConfig, photosNotUploaded, pendingOperations, requestJson, setConfig, unsettledRefusals,
  wipeDatabase,
} from "./store.js";

export const DEVICE_LABEL = "暗访现场（手机）";

/** Thrown by logout when work is not on the server yet; `counts` says what. */
export class UnsyncedWorkError extends FieldError {
  constructor(counts) {
    const parts = [];
    if (counts.pendingOps) parts.push(`${counts.pendingOps} 项记录尚未同步`);
    if (counts.pendingPhotos) parts.push(`${counts.pendingPhotos} 张照片尚未上传`);
    if (counts.refused) parts.push(`${counts.refused} 项被服务器拒绝的记录尚未处理`);
    super(`本机还有未同步的内容：${parts.join("，")}。退出登录会删除这些内容，请先联网同步；确需退出请选择“强制退出”。`);
    this.name = "UnsyncedWorkError";
    this.counts = counts;
  }
}

/** Log in with username and password; keeps the device token and the user the server names. */
export async function login(username, password, { label = DEVICE_LABEL } = {}) {
  const name = String(username ?? "").trim();
  if (!name) throw new FieldError("请输入用户名。");
  if (!password) throw new FieldError("请输入密码。");
  let answer;
  try {
    answer = await requestJson("POST", "/api/v1/auth/tokens",
      { body: { username: name, password, label: String(label).slice(0, 64) }, auth: false });
  } catch (error) {
    if (error instanceof FieldError && error.status === 401) {
      throw new FieldError("用户名或密码不正确。", { status: 401 });
    }
    throw error;
  }
  const token = answer && typeof answer === "object" ? answer.token : null;
  if (typeof token !== "string" || !token) throw new FieldError("服务器的回答中没有访问令牌，未登录。");
  const user = answer.user && typeof answer.user === "object" ? answer.user : {};
  const stored = {
    username: typeof user.username === "string" ? user.username : name,
    display_name: typeof user.display_name === "string" && user.display_name ? user.display_name : name,
  };
  await setConfig({ token, user: { ...user, ...stored } });
  return stored;
}

/** The logged-in user, or null. */
export async function currentUser() {
  const [token, user] = await Promise.all([getConfig("token"), getConfig("user")]);
  if (!token || !user) return null;
  return { username: user.username, display_name: user.display_name };
}

/** What would be lost by wiping the store now. */
export async function unsyncedCounts() {
  const [pending, photos, refused] = await Promise.all([pendingOperations(), photosNotUploaded(), unsettledRefusals()]);
  return { pendingOps: pending.length, pendingPhotos: photos.length, refused: refused.length };
}

/**
 * Log out: revoke the token on the server when reachable, then wipe the local store.
 * Refuses with UnsyncedWorkError while work is not on the server, unless `force`.
 */
export async function logout({ force = false } = {}) {
  const counts = await unsyncedCounts();
  if (!force && (counts.pendingOps || counts.pendingPhotos || counts.refused)) throw new UnsyncedWorkError(counts);
  const token = await getConfig("token");
  if (token) {
    try {
      await requestJson("DELETE", "/api/v1/auth/tokens/current", { token });
    } catch {
      // Offline or already revoked: the wipe below still removes the token from this phone.
    }
  }
  await wipeDatabase();
}
