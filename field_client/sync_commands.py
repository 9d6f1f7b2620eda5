"""`anfang-field sync` and `status`: push the queued operations, upload the photos, pull the
server's changes; and what is still waiting or refused, and why."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import fieldwork
from . import sync as syncing
from .chunking import ChunkSizer
from .command_line import Fail, console, handled, local_text, open_store, server_connection
from .http import ServerError
from .tus import TusClient

# What to do about a refused operation: it stays outstanding until one of these is accepted.
# What each kind of outbox operation is, in the server's words (server/field/push.py ENTITY_LABELS;
# the field client never imports the server).
ENTITY_LABELS = {
    "assignment_reveal": "揭封记录", "inspection": "督查记录", "observation": "检查项记录", "finding": "问题",
    "finding_withdrawal": "问题撤回", "photo": "照片", "penalty": "处罚建议", "note": "典型材料",
    "inspection_submission": "提交", "amendment": "更正", "signature": "签字",
}

HOW_TO_SETTLE = ("被拒绝的操作须更正后重新发送（提交前用 record 重新记录该项），"
                 "或提交后用 amend --settles <操作编号> 追加更正说明。")


@click.command(help="同步：推送待同步的操作，上传照片（断线可续传），再下载服务器上的变化。")
@click.option("--chunk-size", type=click.IntRange(min=4096), default=None,
              help="照片上传的固定分块大小（字节）；不指定时按线路自动调整：从 256 KiB 起，顺利时加大，断线后减小。")
@click.pass_context
@handled
def sync(ctx, chunk_size):
    out = console()
    problems: list[str] = []
    with open_store(ctx) as store, syncing.exclusive(store.home):
        server_url, token = server_connection(store)
        had_pending = bool(store.query_one("SELECT 1 FROM outbox WHERE state = 'pending' LIMIT 1"))

        pushed = syncing.push(store, server_url, token)
        network_down = pushed.error is not None
        if pushed.error:
            problems.append(pushed.error)

        uploaded, ready = 0, [] if network_down else syncing.photos_ready(store)
        if ready:
            client = TusClient(f"{server_url}/api/v1/uploads/", token)
            sizer = ChunkSizer(chunk_size)
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          TimeRemainingColumn(), console=out) as progress:
                for photo in ready:
                    task = progress.add_task(photo["original_name"], total=photo["size"])
                    try:
                        syncing.upload_photo(store, client, photo, sizer=sizer,
                                             on_progress=lambda offset, task=task: progress.update(task,
                                                                                                  completed=offset))
                    except syncing.SyncError as error:
                        problems.append(str(error))
                        if error.network:
                            network_down = True
                            break
                    else:
                        uploaded += 1

        pulled = None
        if not network_down:
            try:
                pulled = syncing.pull(store, server_url, token)
            except ServerError as error:
                problems.append(f"下载服务器变化未完成：{error}")

        remaining = store.query_one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0]
        photos_left = [photo for photo in syncing.photos_not_uploaded(store) if photo["op_state"] != "failed"]
        # Refusals still unsettled, this run's excepted (they are listed with their reasons below).
        unsettled_earlier = fieldwork.outstanding_refusals(store) - len(pushed.failed)

    if not had_pending and not ready and not problems and pulled is not None and pulled.changes == 0 \
            and not photos_left:
        out.print("没有需要同步的内容：本机没有待推送的操作和待上传的照片，服务器也没有新的变化；本机数据未作任何更改。")
        if unsettled_earlier:
            raise Fail(f"另有 {unsettled_earlier} 项操作此前被服务器拒绝，尚未解决。{HOW_TO_SETTLE}")
        return

    out.print(f"推送操作：成功 {pushed.done} 项，失败 {len(pushed.failed)} 项。")
    for failure in pushed.failed:
        out.print(f"  被拒绝：{failure['entity']} {failure['op_id'][:8]}：{failure['reason']}", markup=False)
    for notice in dict.fromkeys(pushed.notices):
        out.print(f"提示：{notice}", style="bold yellow", markup=False)
    out.print(f"上传照片：{uploaded} 张。" + (f"另有 {pushed.photos_held} 张服务器已有，未重复上传。"
                                          if pushed.photos_held else ""))
    if pulled is not None:
        out.print(f"下载变化：{pulled.changes} 项。")
    if pushed.skew_flagged:
        minutes = abs(pushed.skew_seconds or 0) / 60
        server = f"服务器时间 {local_text(pushed.server_time)}，北京时间" if pushed.server_time else "服务器时间未知"
        out.print(f"警告：本机时钟与服务器相差约 {minutes:.0f} 分钟（{server}），"
                  "请校正设备时间；记录的先后以服务器的顺序为准。", style="bold yellow", markup=False)

    left = []
    if pushed.failed:
        left.append(f"{len(pushed.failed)} 项操作被服务器拒绝")
    if unsettled_earlier:
        left.append(f"另有 {unsettled_earlier} 项此前被拒绝的操作尚未解决")
    if remaining:
        left.append(f"{remaining} 项操作仍待同步")
    if photos_left:
        left.append(f"{len(photos_left)} 张照片尚未上传")
    if left or problems:
        reasons = "；".join(dict.fromkeys(problems))
        settle = HOW_TO_SETTLE if pushed.failed or unsettled_earlier else ""
        raise Fail(f"同步未全部完成：{'，'.join(left) or '部分步骤失败'}。" + (f"原因：{reasons}" if reasons else "")
                   + settle + "（anfang-field status 查看详情，稍后再运行 anfang-field sync）")
    out.print("同步完成。")


@click.command(help="查看待同步的操作、失败原因、未上传的照片和残留的照片文件。")
@click.option("--clean", is_flag=True, help="删除残留的照片文件（中断的 photo 命令留下的）。")
@click.pass_context
@handled
def status(ctx, clean):
    out = console()
    with open_store(ctx) as store:
        operations = fieldwork.pending_operations(store)
        waiting = syncing.photos_not_uploaded(store)
        leftovers = fieldwork.orphans(store)
    pending, failed = operations["pending"], operations["failed"]
    out.print(f"待同步操作：{len(pending)} 项；被拒绝未解决：{len(failed)} 项。")
    if pending:
        counts: dict[str, int] = {}
        for operation in pending:
            counts[operation["entity"]] = counts.get(operation["entity"], 0) + 1
        table = Table("类型", "数量", title="待同步")
        for entity, count in counts.items():
            table.add_row(ENTITY_LABELS.get(entity, "其他操作"), str(count))
        out.print(table)
    if failed:
        table = Table("操作", "类型", "原因", title="同步失败")
        for operation in failed:
            table.add_row(operation["op_id"][:8], ENTITY_LABELS.get(operation["entity"], "其他操作"),
                          escape(operation["last_error"] or ""))
        out.print(table)
        out.print(HOW_TO_SETTLE, markup=False)
    if waiting:
        table = Table("照片", "大小", "已上传", "情况", title=f"未上传的照片：{len(waiting)} 张")
        for photo in waiting:
            if photo["op_state"] == "failed":
                state = f"记录被服务器拒绝：{photo['op_error'] or ''}"
            elif photo["op_state"] != "done":
                state = "等待照片记录先同步"
            else:
                state = photo["upload_error"] or ("上传中断，下次同步时续传" if photo["upload_url"] else "待上传")
            table.add_row(escape(photo["original_name"]), str(photo["size"]), f"{photo['upload_offset']}", escape(state))
        out.print(table)
    if leftovers:
        if clean:
            for path in leftovers:
                path.unlink(missing_ok=True)
            out.print(f"已删除 {len(leftovers)} 个残留照片文件。")
        else:
            out.print(f"残留照片文件 {len(leftovers)} 个（未登记的中断拷贝，可用 status --clean 删除）：")
            for path in leftovers:
                out.print(f"  {path.name}")
