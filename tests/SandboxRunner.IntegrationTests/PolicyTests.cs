using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// A hostile agent against the runner's policies on the host engine: the checks every engine must pass
/// (<see cref="PolicyContract"/>), and those that do not depend on the engine.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class PolicyTests(DockerFixture docker) : PolicyContract(docker)
{
    [Fact]
    public async Task A_dotfile_is_a_change_like_any_other()
    {
        await using var h = await Target.HarnessAsync(SrcOnly);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("dot", "@write .env TOKEN=x"))).Results);

        Assert.Equal([".env"], result.FilesChanged);
        Assert.Equal(".env", Assert.Single(result.Violations).Path);
    }

    [Fact]
    public async Task A_nested_repository_is_a_violation()
    {
        await using var h = await Target.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("nested", "@run 0 mkdir -p src/inner && cd src/inner && git init -q && echo x > f && git add f && git commit -qm inner"))).Results);

        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.NestedRepository && v.Path == "src/inner");
    }

    [Fact]
    public async Task Secrets_the_agent_prints_are_redacted_from_everything_returned_and_logged()
    {
        var env = new Dictionary<string, string> { ["CODEX_API_KEY"] = Key };
        await using var h = await Target.HarnessAsync(hostEnvironment: env.GetValueOrDefault);
        const string Pat = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

        var run = await h.RunAsync(RunnerHarness.Task(
            "leaky",
            "@run 0 echo $CODEX_API_KEY; echo AWS=AKIAIOSFODNN7EXAMPLE",
            $"@stderr token {Pat} and PASSWORD=hunter2",
            "@message sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 is my key"));

        var result = Assert.Single(run.Results);
        var returned = JsonSerializer.Serialize(result with { Patch = "" });
        foreach (var secret in (string[])[Key, "AKIAIOSFODNN7EXAMPLE", Pat, "hunter2", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"])
        {
            Assert.DoesNotContain(secret, returned, StringComparison.Ordinal);
            foreach (var file in Directory.GetFiles(h.Store.TaskFolder(run.RunId, "leaky")))
            {
                Assert.DoesNotContain(secret, File.ReadAllText(file), StringComparison.Ordinal);
            }
        }

        Assert.Contains(Redactor.Mask, result.Summary, StringComparison.Ordinal);
        foreach (var line in File.ReadAllLines(Path.Combine(h.Store.TaskFolder(run.RunId, "leaky"), "events.jsonl")))
        {
            using var _ = JsonDocument.Parse(line);
        }
    }

    [Fact]
    public async Task A_task_cannot_widen_the_configured_policies()
    {
        await using var h = await Target.HarnessAsync(c => c with { DefaultAllowedPaths = ["src/**"], AllowedCommands = ["npm test"] });

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(new RunRequest
        {
            Tasks = [new TaskRequest { TaskId = "wide", Prompt = "x", AllowedPaths = ["**"], AllowedCommands = ["npm"] }],
        }, CancellationToken.None));

        Assert.Contains(error.Problems, p => p.Field == "tasks[0].allowed_paths[0]" && p.Rule.Contains("allow_task_policy_widening", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Field == "tasks[0].allowed_commands");
        Assert.Empty(h.Engine.Specs);
    }

    [Fact]
    public async Task A_task_may_narrow_the_configured_policies()
    {
        await using var h = await Target.HarnessAsync(c => c with { DefaultAllowedPaths = ["src/**"] });

        var result = Assert.Single((await h.RunAsync(new RunRequest
        {
            Tasks = [new TaskRequest { TaskId = "narrow", Prompt = "@write src/a.txt x\n@write src/deep/b.txt y", AllowedPaths = ["src/*.txt"] }],
        }, CancellationToken.None)).Results);

        Assert.Equal("src/deep/b.txt", Assert.Single(result.Violations).Path);
    }

    [Fact]
    public async Task The_config_can_allow_tasks_to_widen_its_policies()
    {
        await using var h = await Target.HarnessAsync(c => c with { DefaultAllowedPaths = ["src/**"], AllowTaskPolicyWidening = true });

        var result = Assert.Single((await h.RunAsync(new RunRequest
        {
            Tasks = [new TaskRequest { TaskId = "wide", Prompt = "@write docs/new.md x", AllowedPaths = ["**"] }],
        }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
    }
}
