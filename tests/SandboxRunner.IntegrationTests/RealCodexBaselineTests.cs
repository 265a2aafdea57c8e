using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// The real Codex CLI 0.169 running what an honest session runs (reading with ls, rg, sed -n, nl, cat; git status
/// and diff; mkdir -p; npm-style pipes into tail) under the default allowed_commands and allowed paths: the
/// commands as Codex itself wraps and reports them pass the audit, and the task succeeds.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class RealCodexBaselineTests(DockerFixture docker)
{
    [Fact]
    public async Task A_real_codex_session_of_ordinary_inspection_commands_succeeds_under_the_default_policy()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "inspect",
            ModelStep.Exec("ls && rg --files | head -n 20"),
            ModelStep.Exec("sed -n '1,40p' README.md && nl -ba README.md | sed -n '1,5p'"),
            ModelStep.Exec("cat README.md | wc -l; git status --short && git log --oneline -n 3"),
            ModelStep.Exec("mkdir -p src/utils && find . -name '*.md' -not -path './.git/*' | head"),
            ModelStep.ApplyPatch("*** Begin Patch\n*** Add File: src/utils/trim.js\n+export const trim = (s) => s.trim();\n*** End Patch"),
            ModelStep.Exec("git diff --stat; git status --short 2>&1 | tail -2"),
            ModelStep.Message("Added src/utils/trim.js."));
        await using var h = await RealCodex.HarnessAsync(docker, model, c => c with
        {
            AllowedCommands = RunnerConfig.Default.AllowedCommands,
            DefaultAllowedPaths = RunnerConfig.Default.DefaultAllowedPaths,
            CommandPolicy = CommandPolicyMode.Enforce,
        });

        var run = await h.RunAsync(RunnerHarness.Task("inspect", "Add a trim helper.", ScriptedModelServer.Marker("inspect")));

        var result = Assert.Single(run.Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Empty(result.Violations);
        Assert.Equal(5, result.CommandsRun.Count);
        Assert.All(result.CommandsRun, c => Assert.StartsWith("/bin/bash -lc ", c.Cmd, StringComparison.Ordinal));
        Assert.Equal(["src/utils/trim.js"], result.FilesChanged);
    }
}
