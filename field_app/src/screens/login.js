// 登录: the inspector's username and password; the device gets its own revocable token.
import { login } from "../session.js";
import { busy, errorBox, field, go, h } from "../ui.js";

export async function loginScreen(view) {
  const username = h("input", { type: "text", name: "username", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const errors = errorBox();
  const submit = h("button", { type: "submit", class: "btn primary block" }, "登录");
  const form = h("form", { class: "card", novalidate: true },
    h("h2", {}, "登录"),
    h("p", { class: "muted" }, "请用督查人员账号登录。登录后拉取任务，到现场后无需网络即可揭封和记录。"),
    field("用户名", username),
    field("密码", password),
    errors,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      errors.show("请输入用户名和密码。");
      return;
    }
    const user = await busy(submit, () => login(username.value.trim(), password.value, { label: deviceLabel() }), errors);
    if (user) {
      password.value = "";
      go("#/assignments");
    }
  });
  view.append(form);
}

function deviceLabel() {
  const agent = navigator.userAgent || "";
  const model = /Android[^;)]*;\s*([^;)]+)/.exec(agent)?.[1] || (/iPhone/.test(agent) ? "iPhone" : "浏览器");
  return `手机应用（${model.trim()}）`.slice(0, 60);
}
