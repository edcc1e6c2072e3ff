"""The grading result and its report: a table (part, pass/fail, largest error, hint) in en or zh, or JSON."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import hints

KINDS = {
    "signature": ("signature", "函数签名"),
    "shape_dtype": ("shape and dtype", "形状与 dtype"),
    "values": ("values vs glassnet", "与 glassnet 对比数值"),
    "gradcheck": ("numerical gradient check", "数值梯度检查"),
    "inputs": ("inputs left unmodified", "输入未被修改"),
    "load": ("load the file", "加载文件"),
}

MESSAGES = {
    "not_written": ("{function} is not written yet", "{function} 尚未完成"),
    "exited": ("{function} called sys.exit({code})", "{function} 调用了 sys.exit({code})"),
    "raised": ("{function} raised {error}{at}", "{function} 抛出 {error}{at}"),
    "missing": ("the file has no function {function}", "文件中没有函数 {function}"),
    "not_function": ("{function} is not a function", "{function} 不是函数"),
    "signature": ("{function}{got} should be {function}{want}", "{function}{got} 应为 {function}{want}"),
    "returns": ("{function} should return {want}, got {got}", "{function} 应返回 {want}，实际返回 {got}"),
    "shape": ("{function}: {output} has shape {got}, expected {want}", "{function}：{output} 的形状为 {got}，应为 {want}"),
    "dtype": ("{function}: {output} is {got} for float32 inputs", "{function}：输入为 float32 时 {output} 为 {got}"),
    "values": ("largest difference on case '{case}'", "最大差异出现在用例 '{case}'"),
    "gradcheck": ("{output} differs from central differences on case '{case}'",
                  "用例 '{case}' 中 {output} 与中心差分结果不符"),
    "modified": ("{function} changed {argument} (case '{case}')", "{function} 修改了 {argument}（用例 '{case}'）"),
    "drop_rate": ("dropped a fraction {got} of the units, expected about p = {want}",
                  "丢弃的比例为 {got}，应约为 p = {want}"),
    "not_numbers": ("{function}: {output} should be an array of numbers, got {got}",
                    "{function}：{output} 应为数值数组，实际为 {got}"),
    "not_scalar": ("{function}: the loss should be a scalar, got shape {got}",
                   "{function}：损失应为标量，实际形状为 {got}"),
    "grads_dict": ("{function}: grads should be a dict with the keys of params, got {got}",
                   "{function}：grads 应为与 params 键相同的字典，实际为 {got}"),
    "nothing_ran": ("nothing to check: no function returned", "无法检查：没有函数正常返回"),
    "load_failed": ("the file could not be loaded: {error}{at}", "无法加载文件：{error}{at}"),
    "timeout": ("stopped after the time limit of {seconds:g} s", "超过时间限制 {seconds:g} 秒，已终止"),
    "crashed": ("the process running your code ended (exit code {code})", "运行你的代码的进程意外结束（退出码 {code}）"),
    "not_run": ("not run: an earlier part did not finish", "未运行：之前的部分没有完成"),
    "grader_error": ("the grader could not check this part: {error}", "评分程序无法检查这一部分：{error}"),
}


def message_text(message, lang="en") -> str:
    """Render a (key, params) message in ``lang``."""
    if not message:
        return ""
    key, params = message
    params = dict(params)
    line = params.get("line")
    params["at"] = (f" (line {line})" if lang == "en" else f"（第 {line} 行）") if line else ""
    en, zh = MESSAGES[key]
    return (zh if lang == "zh" else en).format(**params)


@dataclass
class GradeResult:
    """The grade of one file: ``passed`` only when every part passed; ``parts`` are dicts (see :mod:`checks`)."""

    exercise: str
    path: str
    parts: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.parts) and all(p["passed"] for p in self.parts)

    def failures(self) -> list:
        return [p for p in self.parts if not p["passed"]]

    def hints(self) -> list:
        """The hint keys of the failed parts, in report order."""
        return [p["hint"] for p in self.parts if not p["passed"] and p.get("hint")]

    def to_dict(self, lang="en") -> dict:
        rows = []
        for p in self.parts:
            rows.append({
                "part": part_label(p, lang), "function": p["function"], "check": p["kind"], "passed": p["passed"],
                "largest_error": p["error"], "message": message_text(p["message"], lang),
                "hint": p.get("hint"), "hint_text": hints.text(p["hint"], lang) if p.get("hint") else None,
            })
        return {"exercise": self.exercise, "file": self.path, "passed": self.passed,
                "passed_parts": sum(p["passed"] for p in self.parts), "total_parts": len(self.parts), "parts": rows}

    def table(self, lang="en") -> str:
        """The report as a plain-text table, failures followed by their message and hint."""
        zh = lang == "zh"
        head = ("部分", "结果", "最大误差") if zh else ("part", "result", "largest error")
        labels = [part_label(p, lang) for p in self.parts]
        width = max([len(head[0])] + [_width(s) for s in labels])
        lines = [f"{self.exercise}: {self.path}", f"{_pad(head[0], width)}  {_pad(head[1], 6)}  {head[2]}", "-" * (width + 26)]
        for p, label in zip(self.parts, labels):
            verdict = ("通过" if zh else "pass") if p["passed"] else ("未通过" if zh else "FAIL")
            error = "" if p["error"] is None else f"{p['error']:.2e}"
            lines.append(f"{_pad(label, width)}  {_pad(verdict, 6)}  {error}")
            if not p["passed"]:
                if p["message"]:
                    lines.append(f"    {message_text(p['message'], lang)}")
                if p.get("hint"):
                    lines.append(f"    {'提示：' if zh else 'hint: '}{hints.text(p['hint'], lang)}")
        done = sum(p["passed"] for p in self.parts)
        lines.append("-" * (width + 26))
        if zh:
            lines.append(f"{done}/{len(self.parts)} 项通过" + ("，全部完成！" if self.passed else ""))
        else:
            lines.append(f"{done} of {len(self.parts)} parts pass" + (": all done!" if self.passed else ""))
        return "\n".join(lines)


def part_label(part, lang="en") -> str:
    kind = KINDS[part["kind"]][1 if lang == "zh" else 0]
    return kind if part["function"] == "all" else f"{part['function']}: {kind}"


def _width(s):
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _pad(s, width):
    return s + " " * (width - _width(s))
