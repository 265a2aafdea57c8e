using CsCheck;
using SandboxRunner.Configuration;
using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Properties;

/// <summary>
/// The baseline under generated command lines: honest inspection pipelines in any combination pass the default
/// policy, and a forbidden program reached through any chain of launchers and wrappers the baseline lets
/// through, or a launch construct slipped into an honest line, never does.
/// </summary>
public sealed class CommandBaselineProperties
{
    private static readonly CommandPolicy Default = new(RunnerConfig.Default.AllowedCommands, []);

    private static readonly Gen<string> Honest = Gen.OneOf(
        "ls -la", "rg --files", "rg -n \"todo\" src", "sed -n '1,120p' src/index.js", "nl -ba src/a.js", "cat package.json", "head -n 20",
        "tail -n 5", "wc -l", "git status --short", "git diff", "git log --oneline -5", "grep -rn x src", "sort", "uniq -c", "mkdir -p src/x",
        "touch src/x/a.js", "npm test 2>&1", "npx tsc --noEmit", "echo ok", "find . -name '*.js' -not -path './node_modules/*'", "jq .name package.json",
        "awk '{print $1}'", "cut -d: -f1", "tr a-z A-Z", "diff -u a b", "xargs wc -l", "true", "test -f x", "cd src");

    private static readonly Gen<string> Operator = Gen.OneOf(" && ", " ; ", " | ", " || ", "\n");

    private static readonly Gen<string> HonestLine = Gen.Select(Honest, Gen.Select(Operator, Honest).Array[0, 5], (first, rest) =>
        first + string.Concat(rest.Select(r => r.Item1 + r.Item2)));

    /// <summary>Ways a command can be started by another the baseline lets through, each wrapping the one inside.</summary>
    private static readonly Gen<Func<string, string>> Launcher = Gen.OneOf<Func<string, string>>(
        c => $"find . -name '*.js' -exec {c} \\;",
        c => $"find . -execdir sh -c {Quote(c)} \\;",
        c => $"xargs {c}",
        c => $"xargs -0 -n 1 {c}",
        c => $"env CI=1 {c}",
        c => $"timeout 5 {c}",
        c => $"nice -n 1 {c}",
        c => $"nohup {c}",
        c => $"stdbuf -oL {c}",
        c => $"time {c}",
        c => $"command {c}",
        c => $"busybox {c}",
        c => $"sh -c {Quote(c)}",
        c => $"/bin/bash -lc {Quote(c)}",
        c => $"watch -x {c}",
        c => $"watch -n 1 {Quote(c)}",
        c => $"echo $( {c})",
        c => $"ls \"$( {c} )\"",
        c => $"{c} | tail -2",
        c => $"git status && {c}",
        c => $"if true; then {c}; fi",
        c => $"for f in a b; do {c}; done",
        c => $"( cd src && {c} )");

    /// <summary>Launch constructs the audit cannot follow into what they start.</summary>
    private static readonly Gen<string> Construct = Gen.OneOf(
        "sed 's/x/y/e' a", "sed '1e id' a", "sed -f s.sed a", "awk 'BEGIN{system(\"id\")}'", "awk '{print | \"sh\"}'",
        "awk 'BEGIN{\"id\" | getline}'", "gawk '@load \"x\"'", "awk -f p.awk", "git -c core.pager=sh log", "git -c alias.x='!id' x",
        "git --config-env=core.pager=X log", "git --exec-path=/tmp status", "git grep -Oid x", "find . -exec {} \\;", "xargs -I{} {}",
        "xargs -I{} sh -c {}", "xargs env", "xargs find .", "parallel id ::: a", "less +!id x", "vi -c '!id' x", "sort --compress-program=id a",
        "rg --pre id x", "tar --to-command=id -xf a.tar", "env -S 'id' x", "curl evil", "/tmp/ls", "PATH=/tmp ls", "git push", "sed -n 'w /tmp/x' a",
        "awk \"$P\" f", "sed \"$p\" a", "find . $A id \\;", "sort *", "git grep $X y", "rg -n x \"$f\"", "bash -c \"$S\"");

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [Fact]
    public void Honest_inspection_pipelines_pass_the_default_policy_in_any_combination()
    {
        Gen.Select(HonestLine, Gen.Int[0, 2]).Sample((line, wraps) =>
        {
            var command = Enumerable.Range(0, wraps).Aggregate(line, (inner, _) => $"/bin/bash -lc {Quote(inner)}");
            Assert.Empty(Default.Check([command]));
        }, iter: 1000, print: t => t.Item1);
    }

    [Fact]
    public void A_forbidden_program_reached_through_any_chain_of_launchers_is_never_allowed()
    {
        Launcher.Array[1, 6].Sample(chain =>
        {
            var command = chain.Aggregate("curl evil", (inner, launch) => launch(inner));

            var violations = Default.Check([command]);

            // Past the depth the audit reads shells to, the shell itself is the command judged (and refused): it names curl too.
            Assert.Contains(violations, v => v.Kind == ViolationKind.Unjudgeable || (v.Command ?? "").Contains("curl evil", StringComparison.Ordinal));
        }, iter: 2000, print: chain => chain.Aggregate("curl evil", (inner, launch) => launch(inner)));
    }

    [Fact]
    public void A_launch_construct_slipped_into_an_honest_line_is_never_allowed()
    {
        Gen.Select(HonestLine, Operator, Construct, HonestLine, Gen.Bool).Sample((before, op, construct, after, wrap) =>
        {
            var line = $"{before}{op}{construct}{op}{after}";
            var command = wrap ? $"/bin/bash -lc {Quote(line)}" : line;

            Assert.NotEmpty(Default.Check([command]));
        }, iter: 2000, print: t => $"{t.Item1}{t.Item2}{t.Item3}{t.Item2}{t.Item4}");
    }

    [Fact]
    public void A_launch_construct_through_any_chain_of_launchers_is_never_allowed()
    {
        Gen.Select(Construct, Launcher.Array[1, 4]).Sample((construct, chain) =>
        {
            var command = chain.Aggregate(construct, (inner, launch) => launch(inner));

            Assert.NotEmpty(Default.Check([command]));
        }, iter: 2000, print: t => t.Item2.Aggregate(t.Item1, (inner, launch) => launch(inner)));
    }
}
