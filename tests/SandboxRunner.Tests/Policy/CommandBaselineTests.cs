using SandboxRunner.Configuration;
using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>
/// The built-in baseline: what an honest coding agent runs to read a repository and change its files passes
/// the default <c>allowed_commands</c> (the original's <c>npm test</c>, <c>npm run lint</c>, <c>npx tsc --noEmit</c>),
/// each in the <c>/bin/bash -lc '…'</c> form Codex 0.169 reports.
/// </summary>
public sealed class CommandBaselineTests
{
    private static readonly CommandPolicy Default = new(RunnerConfig.Default.AllowedCommands, RunnerConfig.Default.DeniedCommands);

    private static string Wrapped(string command) => $"/bin/bash -lc '{command.Replace("'", "'\\''", StringComparison.Ordinal)}'";

    private static IReadOnlyList<Violation> Check(string command) => Default.Check([Wrapped(command)]);

    [Theory]
    [InlineData("ls")]
    [InlineData("ls -la src")]
    [InlineData("pwd && ls -1")]
    [InlineData("rg --files")]
    [InlineData("rg --files | head -n 200")]
    [InlineData("rg -n \"parseConfig\" src")]
    [InlineData("rg -n --hidden -g '!node_modules' TODO")]
    [InlineData("sed -n '1,200p' src/index.js")]
    [InlineData("sed -n '200,400p' src/index.js")]
    [InlineData("nl -ba src/index.js | sed -n '10,80p'")]
    [InlineData("cat package.json")]
    [InlineData("head -n 40 README.md")]
    [InlineData("tail -n 50 src/app.ts")]
    [InlineData("wc -l src/*.js")]
    [InlineData("git status")]
    [InlineData("git status --short")]
    [InlineData("git diff")]
    [InlineData("git diff --stat HEAD")]
    [InlineData("git log --oneline -n 5")]
    [InlineData("git show HEAD --stat")]
    [InlineData("git ls-files | head")]
    [InlineData("git --no-pager diff")]
    [InlineData("git -c color.ui=never diff")]
    [InlineData("grep -rn \"TODO\" src | head -20")]
    [InlineData("find . -name '*.test.js' -not -path './node_modules/*' | head")]
    [InlineData("find src -type f -name '*.ts' -exec wc -l {} +")]
    [InlineData("find . -name '*.orig' -delete")]
    [InlineData("cd src && ls")]
    [InlineData("mkdir -p src")]
    [InlineData("mkdir -p src/utils && touch src/utils/index.js")]
    [InlineData("cp src/a.js src/b.js && mv src/b.js src/c.js && rm -f src/c.js")]
    [InlineData("npm test 2>&1 | tail -2")]
    [InlineData("npm test 2>&1 | tail -n 30")]
    [InlineData("npm run lint -- --fix")]
    [InlineData("npx tsc --noEmit")]
    [InlineData("CI=1 npm test")]
    [InlineData("set -euo pipefail; npm test")]
    [InlineData("echo done")]
    [InlineData("printf '%s\\n' a b | sort | uniq -c")]
    [InlineData("test -f package.json && echo yes")]
    [InlineData("[ -d src ] || mkdir src")]
    [InlineData("[[ -f README.md ]] && head README.md")]
    [InlineData("command -v rg")]
    [InlineData("which node")]
    [InlineData("cat package.json | jq .scripts")]
    [InlineData("awk 'NR<=20 {print NR\": \"$0}' src/index.js")]
    [InlineData("awk -F, '/foo|bar/ {print $1}' data.csv")]
    [InlineData("sed -i 's/foo/bar/g' src/index.js")]
    [InlineData("sed -E -e 's#a/b#c#' -e '/^$/d' src/a.txt")]
    [InlineData("sed -n '/function parse/,/^}/p' src/parse.js")]
    [InlineData("sed ':a;N;$!ba;s/\\n/ /g' notes.txt")]
    [InlineData("diff -u src/a.js src/b.js")]
    [InlineData("xargs -0 grep -l foo < files.txt")]
    [InlineData("rg --files | xargs rg -n foo --")]
    [InlineData("rg --files | xargs sed -n '1,5p' --")]
    [InlineData("rg --files | xargs awk 'FNR==1 {print FILENAME}'")]
    [InlineData("rg --files | xargs -I{} sh -c 'wc -l \"$1\"' _ {}")]
    [InlineData("rg --files -g '*.js' | xargs wc -l")]
    [InlineData("for f in src/*.js; do wc -l \"$f\"; done")]
    [InlineData("while read -r line; do echo \"$line\"; done < list.txt")]
    [InlineData("files=$(rg --files src) && echo \"$files\" | head")]
    [InlineData("apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: src/hello.txt\n+hello\n*** End Patch\nEOF")]
    [InlineData("cat > src/new.js <<'EOF'\nexport const x = 1; // $(curl not run)\nEOF")]
    public void An_ordinary_inspection_or_file_command_passes_the_default_policy(string command)
    {
        Assert.Empty(Check(command));
    }

    [Theory]
    [InlineData("git push origin HEAD", "git push")]
    [InlineData("git fetch", "git fetch")]
    [InlineData("git clone https://example.com/x.git", "git clone")]
    [InlineData("git config core.fsmonitor true", "git config")]
    [InlineData("git rebase -x 'curl evil' HEAD~1", "git rebase")]
    [InlineData("git -p log", "git -p")]
    [InlineData("git diff --ext-diff", "--ext-diff")]
    [InlineData("sed -n 'w /tmp/out' src/a.js", "sed's w command")]
    [InlineData("sed 's/a/b/w out.txt' src/a.js", "sed's w command")]
    [InlineData("find . -fprint /tmp/list", "find -fprint")]
    [InlineData("set -a", "set -a")]
    [InlineData("set -o allexport", "set -o allexport")]
    [InlineData("curl -s https://example.com", "curl is not a baseline command")]
    [InlineData("./node_modules/.bin/jest", "is named by a path outside the system directories")]
    [InlineData("command curl x", "curl is not a baseline command")]
    public void A_baseline_program_used_past_the_baseline_is_not_allowed_and_the_rule_says_why(string command, string reason)
    {
        var violation = Assert.Single(Check(command));

        Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
        Assert.Contains(reason, violation.Rule, StringComparison.Ordinal);
        Assert.EndsWith("and matches none of allowed_commands (npm test, npm run lint, npx tsc --noEmit)", violation.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("git push origin HEAD", "git push")]
    [InlineData("sed 's/a/b/w out.txt' src/a.js", "sed")]
    [InlineData("curl -s https://example.com", "curl -s")]
    public void Allowed_commands_add_to_the_baseline(string command, string allowed)
    {
        Assert.Empty(new CommandPolicy([.. RunnerConfig.Default.AllowedCommands, allowed], []).Check([Wrapped(command)]));
    }

    [Theory]
    [InlineData("ls", "ls")]
    [InlineData("git status", "git status")]
    [InlineData("mkdir -p src", "mkdir")]
    public void A_denied_command_is_denied_even_in_the_baseline(string command, string denied)
    {
        Assert.Equal(ViolationKind.CommandDenied, Assert.Single(new CommandPolicy(RunnerConfig.Default.AllowedCommands, [denied]).Check([Wrapped(command)])).Kind);
    }

    [Theory]
    [InlineData("for PATH in /tmp; do npm test; done", "PATH")]
    [InlineData("read -r PATH < p.txt; npm test", "PATH")]
    [InlineData("printf -v PATH '/tmp'; npm test", "PATH")]
    [InlineData("path=/tmp; npm test", "path")]
    [InlineData("npm_config_script_shell=/tmp/x; npm test", "npm_config_script_shell")]
    [InlineData("https_proxy=http://evil; npm test", "https_proxy")]
    [InlineData("f=1 npm test", "f")]
    public void A_variable_a_program_could_read_is_judged_however_it_is_set(string command, string variable)
    {
        var violation = Assert.Single(Check(command));

        Assert.StartsWith($"sets {variable}, ", violation.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_allowed_list_still_allows_everything()
    {
        Assert.Empty(new CommandPolicy([], []).Check([Wrapped("curl x | sh; git push; sed -n 'w /tmp/x' a")]));
    }

    [Fact]
    public void Docs_policies_lists_every_baseline_program_git_subcommand_and_inert_variable()
    {
        var docs = File.ReadAllText(Path.Combine(Configuration.RepositoryRoot.Path, "docs", "policies.md"));
        IEnumerable<string> named = [
            .. CommandBaseline.Inspection, .. CommandBaseline.WorkspaceFiles, .. CommandBaseline.Judged, .. GitCommand.BaselineSubcommands, .. CommandPolicy.Inert];

        Assert.All(named, name => Assert.Contains($"`{name}`", docs, StringComparison.Ordinal));
    }

    [Fact]
    public void The_baseline_lists_no_program_that_starts_another_without_a_rule_for_it()
    {
        string[] launchers = ["sh", "bash", "env", "nice", "nohup", "timeout", "sudo", "watch", "parallel", "less", "vi", "vim", "ed", "tar", "make", "npx", "node", "python", "python3", "perl", "eval", "source", ".", "exec", "flock", "script"];

        Assert.Empty(launchers.Intersect(CommandBaseline.Inspection.Concat(CommandBaseline.WorkspaceFiles)));
    }
}
