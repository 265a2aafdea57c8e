using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>The pipeline path end to end: the command line, the real Codex 0.169, the egress proxy, a scripted model.</summary>
[Collection(CliCollection.Name)]
public sealed class CliRealCodexTests(DockerFixture docker)
{
    [Fact]
    public async Task Run_drives_the_real_codex_through_the_deny_proxy_and_exits_0_with_a_junit_report_and_the_patch()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "cli",
            ModelStep.Exec("echo from-codex"),
            ModelStep.ApplyPatch("*** Begin Patch\n*** Add File: src/cli.txt\n+written through the command line\n*** End Patch"),
            ModelStep.Message("Added src/cli.txt."));
        await using var h = CliHarness.Create(docker, RealCodex.DenyConfigJson(model));
        foreach (var (name, value) in RealCodex.ServerEnvironment(model))
        {
            h.Environment[name] = value!;
        }

        var runId = NewRunId("cli-real");
        var tasks = h.WriteTasks(Run(runId, new Dictionary<string, object?> { ["task_id"] = "real", ["prompt"] = $"Add a file. {ScriptedModelServer.Marker("cli")}" }));
        var junit = h.FileIn("junit.xml");

        var run = await h.RunAsync("run", tasks, "--junit", junit);

        Assert.True(run.ExitCode == 0, run.ToString());
        var result = h.Result(runId, "real");
        Assert.Equal(["src/cli.txt"], result.GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains("+written through the command line", result.GetProperty("patch").GetString(), StringComparison.Ordinal);
        Assert.Equal("Added src/cli.txt.", result.GetProperty("summary").GetString());
        var testcase = CliJunitReportTests.Validated(junit).Descendants("testcase").Single();
        Assert.Null(testcase.Element("failure"));
        Assert.Equal("Added src/cli.txt.", testcase.Element("system-out")?.Value);
        Assert.All(model.RequestsFor("cli"), r => Assert.Equal($"Bearer {RealCodex.ApiKey}", r.Header("Authorization")));
    }
}
