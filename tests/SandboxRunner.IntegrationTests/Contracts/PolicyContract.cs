using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// A hostile agent against the runner's policies, as they must hold on any engine: what it did is found in
/// its tree, never taken from its word, and nothing it planted runs on this machine. Run on the host engine
/// (bind mounts) by <see cref="PolicyTests"/> and on a second engine (copy transport) by Remote/RemotePolicyTests.
/// </summary>
public abstract class PolicyContract(IEngineUnderTest target)
{
    protected const string Key = "sk-test-0123456789abcdefghijklmnop";

    protected IEngineUnderTest Target { get; } = target;

    protected static RunnerConfig SrcOnly(RunnerConfig c) => c with { DefaultAllowedPaths = ["src/**"] };

    [Fact]
    public async Task A_write_outside_the_allowed_paths_fails_the_task_and_keeps_the_patch_marked_not_applicable()
    {
        await using var h = await Target.HarnessAsync(SrcOnly);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("out", "@write src/ok.txt fine", "@write secrets/leak.txt x"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        var violation = Assert.Single(result.Violations);
        Assert.Equal((ViolationKind.PathNotAllowed, "secrets/leak.txt"), (violation.Kind, violation.Path));
        Assert.Contains("src/**", violation.Rule, StringComparison.Ordinal);
        Assert.False(result.PatchApplicable);
        Assert.Contains("+++ b/secrets/leak.txt", result.Patch, StringComparison.Ordinal);
        Assert.Contains("+++ b/src/ok.txt", result.Patch, StringComparison.Ordinal);
        Assert.Contains("violation [path_not_allowed] secrets/leak.txt", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symlink_out_of_the_worktree_is_a_violation()
    {
        await using var h = await Target.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("link", "@symlink src/pw /etc/passwd", "@symlink src/up ../../outside", "@symlink src/in app.txt"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(["src/pw", "src/up"], result.Violations.Where(v => v.Kind == ViolationKind.SymlinkEscape).Select(v => v.Path).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(result.Violations, v => v.Path == "src/in");
    }

    [Fact]
    public async Task Planted_git_settings_run_nowhere_on_the_host_and_are_reported()
    {
        await using var h = await Target.HarnessAsync();
        var marker = Path.Combine(Path.GetTempPath(), $"sr-pwned-{Guid.NewGuid():N}");
        var hostConfig = File.ReadAllBytes(Path.Combine(h.Repository.GitDir, "config"));
        var hostHooks = Directory.GetFiles(Path.Combine(h.Repository.GitDir, "hooks"));
        string Touch(string kind) => $"touch {marker}-{kind}";

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "planter",
            $"@run 0 git config core.fsmonitor '{Touch("fsmonitor")}'",
            $"@run 0 git config filter.evil.clean '{Touch("clean")}' && git config filter.evil.smudge '{Touch("smudge")}' && git config filter.evil.required true",
            $"@run 0 git config diff.evil.textconv '{Touch("textconv")}' && git config diff.evil.command '{Touch("extdiff")}'",
            $"@run 0 git config core.pager '{Touch("pager")}' && git config core.hooksPath .git/evil-hooks && git config alias.diff '!{Touch("alias")}'",
            $"@run 0 printf '[core]\\n\\tfsmonitor = {Touch("include")}\\n' > /codex-home/evil.inc && git config include.path /codex-home/evil.inc",
            $"@run 0 git config --global core.fsmonitor '{Touch("global")}' && git config --global filter.evil.clean '{Touch("global-clean")}'",
            $"@run 0 mkdir -p .git/hooks .git/evil-hooks && for h in pre-commit post-checkout post-commit reference-transaction pre-auto-gc post-index-change; do printf '#!/bin/sh\\n{Touch("hook")}-$h\\n' > .git/hooks/$h; cp .git/hooks/$h .git/evil-hooks/$h; chmod +x .git/hooks/$h .git/evil-hooks/$h; done",
            $"@run 0 mkdir -p .git/info && printf '* filter=evil diff=evil merge=evil\\n' > .git/info/attributes",
            "@write .gitattributes * filter=evil diff=evil merge=evil\\n",
            "@write src/app.txt changed by the planter\\n",
            "@write src/new.txt new\\n"))).Results);

        Assert.All(result.CommandsRun, c => Assert.Equal(0, c.ExitCode));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(marker) + "*"));

        // The host still read the change correctly, and reports the planted settings.
        Assert.Equal([".gitattributes", "src/app.txt", "src/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.True(Verify(result.Patch, h), result.ApplyCheckLog);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path == ".git/config");
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path!.StartsWith(".git/hooks/", StringComparison.Ordinal));
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path == ".git/info/attributes");

        // The user's repository is untouched, and plain git there runs nothing either.
        Assert.Equal(hostConfig, File.ReadAllBytes(Path.Combine(h.Repository.GitDir, "config")));
        Assert.Equal(hostHooks, Directory.GetFiles(Path.Combine(h.Repository.GitDir, "hooks")));
        h.Repository.Git("status");
        h.Repository.Git("diff", "HEAD", result.Branch!);
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(marker) + "*"));
    }

    private static bool Verify(string patch, RunnerHarness h)
    {
        TestRepository.RunGit(h.Repository.Path, System.Text.Encoding.UTF8.GetBytes(patch), "apply", "--check", "-");
        return true;
    }

    [Fact]
    public async Task A_patch_holding_a_passed_secret_is_a_violation_and_is_not_altered()
    {
        var env = new Dictionary<string, string> { ["CODEX_API_KEY"] = Key };
        await using var h = await Target.HarnessAsync(hostEnvironment: env.GetValueOrDefault);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("exfil", "@run 0 echo \"key=$CODEX_API_KEY\" > src/config.txt"))).Results);

        var violation = Assert.Single(result.Violations);
        Assert.Equal(ViolationKind.SecretInPatch, violation.Kind);
        Assert.Contains("CODEX_API_KEY", violation.Rule, StringComparison.Ordinal);
        Assert.Contains(Key, result.Patch, StringComparison.Ordinal);
        Assert.False(result.PatchApplicable);
    }

    [Fact]
    public async Task A_denied_command_is_forbidden_to_codex_up_front_and_flagged_after()
    {
        await using var h = await Target.HarnessAsync(c => c with { DeniedCommands = ["curl", "git push"] });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("denied", "@run 0 cat $CODEX_HOME/rules/sandbox-runner.rules", "@run * curl http://127.0.0.1:9 || true"))).Results);

        Assert.Contains("prefix_rule(pattern=[\"curl\"], decision=\"forbidden\")", result.Evidence, StringComparison.Ordinal);
        Assert.Contains("prefix_rule(pattern=[\"git\", \"push\"], decision=\"forbidden\")", result.Evidence, StringComparison.Ordinal);
        var violation = Assert.Single(result.Violations);
        Assert.Equal(ViolationKind.CommandDenied, violation.Kind);
        Assert.StartsWith("curl", violation.Command, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_the_forbidden_part_of_a_compound_command_is_flagged()
    {
        await using var h = await Target.HarnessAsync(c => c with { AllowedCommands = ["echo", "ls"] });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("compound", "@run * echo a && wget -q http://127.0.0.1:9/x; ls | echo done"))).Results);

        var violation = Assert.Single(result.Violations);
        Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
        Assert.Equal("wget -q http://127.0.0.1:9/x", violation.Command);
        Assert.Equal(TaskStatus.Failed, result.Status);
    }
}
