using System.Diagnostics;
using System.Text;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// The real Codex CLI 0.169 (the runner's image built from Dockerfile.codex) in the runner's container, driven by a
/// scripted model server on this machine. These prove what the fake Codex cannot: that the runner's command
/// line, mounts, environment and JSONL parsing work with the binary it ships.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class RealCodexTests(DockerFixture docker)
{
    private const string EditPatch =
        "*** Begin Patch\n" +
        "*** Add File: src/hello.txt\n" +
        "+hello world\n" +
        "*** Update File: README.md\n" +
        "@@\n" +
        "-# Test repo\n" +
        "+# Test repo, edited\n" +
        "*** End Patch";

    [Fact]
    public async Task A_task_that_runs_commands_and_applies_a_patch_succeeds_with_its_files_commands_patch_usage_and_last_message()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "edit",
            ModelStep.Exec("echo hi && ls"),
            ModelStep.Exec("ls no-such-file"),
            ModelStep.ApplyPatch(EditPatch),
            ModelStep.Message("Added src/hello.txt and edited README.md."));
        await using var h = await RealCodex.HarnessAsync(docker, model);

        var run = await h.RunAsync(RunnerHarness.Task("edit", "Add a greeting and edit the README.", ScriptedModelServer.Marker("edit")));

        var result = Assert.Single(run.Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["README.md", "src/hello.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.Equal(
            [("/bin/bash -lc 'echo hi && ls'", (int?)0), ("/bin/bash -lc 'ls no-such-file'", 2)],
            result.CommandsRun.Select(c => (c.Cmd, c.ExitCode)));
        Assert.Contains("hi\n", result.Evidence, StringComparison.Ordinal);
        Assert.Equal("Added src/hello.txt and edited README.md.", result.Summary);
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.Empty(result.Violations);

        // Codex sums the usage of every response of the turn; the server answered four times.
        var requests = model.RequestsFor("edit");
        Assert.Equal([0, 1, 2, 3], requests.Select(r => r.Step));
        Assert.Equal(requests.Count * ScriptedModelServer.InputTokensPerResponse, result.Usage.InputTokens);
        Assert.Equal(requests.Count * ScriptedModelServer.OutputTokensPerResponse, result.Usage.OutputTokens);
        Assert.All(requests, r => Assert.Equal($"Bearer {RealCodex.ApiKey}", r.Header("Authorization")));

        // Independently of the runner: plain git applies the patch at base_ref and reproduces the files.
        AssertPatchReproduces(h, run.BaseCommit, result.Patch, new Dictionary<string, string>
        {
            ["src/hello.txt"] = "hello world\n",
            ["README.md"] = "# Test repo, edited\n",
        });
    }

    [Fact]
    public async Task In_deny_the_model_server_is_reached_only_through_the_proxy_and_gets_the_key_the_container_never_sees()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "deny",
            ModelStep.Exec("env | grep -c 'sk-scripted-model-test-ke[y]'; echo proxy=$HTTPS_PROXY"),
            ModelStep.Message("Checked the environment."));
        await using var h = await RealCodex.HarnessAsync(docker, model, c => c with
        {
            NetworkPolicy = Configuration.NetworkPolicy.Deny,
            ModelBaseUrl = model.BaseUrlFor(RealCodex.Gateway),
            ModelApiKeyEnv = RealCodex.ApiKeyVariable,
            NetworkAllowlist = [],
        });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("deny", "Look at the environment.", ScriptedModelServer.Marker("deny")))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal("Checked the environment.", result.Summary);
        var env = Assert.Single(result.CommandsRun).OutputTail;
        Assert.StartsWith("0\n", env, StringComparison.Ordinal);
        Assert.Contains("proxy=http://sandbox-proxy:3128", env, StringComparison.Ordinal);
        var requests = model.RequestsFor("deny");
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal($"Bearer {RealCodex.ApiKey}", r.Header("Authorization")));
        Assert.Equal("deny", result.Network!.Policy);
        var proxy = Assert.Single(h.Engine.Specs.Values, s => s.Labels.GetValueOrDefault(Sandbox.Labels.Role) == "egress");
        var task = Assert.Single(h.Engine.Specs.Values, s => s.Image == h.Runner.Image);
        Assert.DoesNotContain(task.Environment, kv => kv.Value.Contains(RealCodex.ApiKey, StringComparison.Ordinal));
        // The proxy got the key on its stdin, never in its configuration (where an engine-API holder reads it).
        Assert.DoesNotContain(proxy.Environment, kv => kv.Value.Contains(RealCodex.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_plan_review_asks_for_a_json_schema_answer_and_returns_the_six_lists()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        const string Answer = """{"missing_tasks":["add a migration"],"dependency_issues":[],"parallelization_suggestions":["2 and 3 can run together"],"test_gaps":["no test for login"],"risk_flags":[],"recommended_task_splits":[]}""";
        model.Scenario("review", ModelStep.Exec("ls"), ModelStep.Message(Answer));
        await using var h = await RealCodex.HarnessAsync(docker, model);

        var review = await PlanReview.ReviewAsync(h.Runner, $"1. Add login\n2. Add logout\n3. Add tests\n{ScriptedModelServer.Marker("review")}", "ASP.NET app", null, CancellationToken.None);

        Assert.Equal(["add a migration"], review.Report.MissingTasks);
        Assert.Equal(["2 and 3 can run together"], review.Report.ParallelizationSuggestions);
        Assert.Equal(["no test for login"], review.Report.TestGaps);
        var format = System.Text.Json.Nodes.JsonNode.Parse(model.RequestsFor("review")[0].Body)!["text"]!["format"]!;
        Assert.Equal("json_schema", (string?)format["type"]);
        Assert.Equal(
            ["dependency_issues", "missing_tasks", "parallelization_suggestions", "recommended_task_splits", "risk_flags", "test_gaps"],
            format["schema"]!["required"]!.AsArray().Select(n => (string?)n).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_response_failed_from_the_model_fails_the_task_with_the_model_error_in_the_notes()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("melt", ModelStep.Fail("mock model melted down"));
        await using var h = await RealCodex.HarnessAsync(docker, model);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("melt", ScriptedModelServer.Marker("melt")))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(1, result.ExitCode);
        // Codex 0.169 reports a failed stream as "stream disconnected before completion: <model's message>".
        Assert.Contains("turn failed: stream disconnected before completion: mock model melted down", result.NotesForManager, StringComparison.Ordinal);
        Assert.Empty(result.FilesChanged);
        Assert.Single(model.RequestsFor("melt"));
    }

    [Fact]
    public async Task An_http_500_from_the_model_fails_the_task_after_one_request_with_the_codex_error_in_the_notes()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("boom", ModelStep.HttpError(500, "mock server exploded"));
        await using var h = await RealCodex.HarnessAsync(docker, model);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("boom", ScriptedModelServer.Marker("boom")))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(1, result.ExitCode);
        // Codex 0.169 does not pass a 500's body on: whatever the server says, the turn fails with its own
        // "We’re currently experiencing high demand, which may cause temporary errors." (same as the fixture).
        Assert.Contains("turn failed: We’re currently experiencing high demand", result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("codex exited with code 1", result.NotesForManager, StringComparison.Ordinal);
        Assert.Single(model.RequestsFor("boom"));
    }

    [Fact]
    public async Task A_model_stream_that_hangs_times_out_at_the_deadline_and_its_connection_is_dropped()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("hang", ModelStep.Hang());
        await using var h = await RealCodex.HarnessAsync(docker, model);

        var run = await h.RunAsync(
            new RunRequest { Tasks = [new TaskRequest { TaskId = "hang", Prompt = ScriptedModelServer.Marker("hang"), TimeoutSec = 10 }] },
            CancellationToken.None);

        var result = Assert.Single(run.Results);
        Assert.Equal(TaskStatus.Timeout, result.Status);
        Assert.Null(result.ExitCode);
        Assert.Contains("timeout: killed at the 10 s deadline", result.NotesForManager, StringComparison.Ordinal);
        var id = Assert.Single(h.Engine.Started.Keys);
        Assert.InRange((h.Engine.Exited[id] - h.Engine.Started[id]).TotalSeconds, 10, 12);
        Assert.Single(model.RequestsFor("hang"));

        // The killed container's connection closes, so the server's hanging stream ends too.
        await Poll.UntilAsync(() => model.HangsAbandoned > 0, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.Equal(1, model.HangsAbandoned);
    }

    [Fact]
    public async Task Four_tasks_in_parallel_against_one_model_server_each_get_only_their_own_files()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        var ids = Enumerable.Range(1, 4).Select(i => $"par{i}").ToList();
        foreach (var id in ids)
        {
            model.Scenario(
                id,
                ModelStep.ApplyPatch($"*** Begin Patch\n*** Add File: src/{id}.txt\n+written by {id}\n*** End Patch"),
                ModelStep.Message($"{id} done."));
        }

        await using var h = await RealCodex.HarnessAsync(docker, model, c => c with { DefaultConcurrency = 4 });

        var run = await h.RunAsync(
            new RunRequest { Tasks = [.. ids.Select(id => RunnerHarness.Task(id, ScriptedModelServer.Marker(id)))], Concurrency = 4 },
            CancellationToken.None);

        Assert.Equal(4, run.Results.Count);
        Assert.All(run.Results, r =>
        {
            Assert.True(r.Status == TaskStatus.Success, $"{r.TaskId}: {r.Status}: {r.NotesForManager}");
            Assert.Equal([$"src/{r.TaskId}.txt"], r.FilesChanged);
            Assert.Contains($"+written by {r.TaskId}", r.Patch, StringComparison.Ordinal);
            Assert.Equal($"{r.TaskId} done.", r.Summary);
            Assert.Equal([0, 1], model.RequestsFor(r.TaskId).Select(q => q.Step));
        });
        Assert.Equal(4, h.Engine.Started.Count);
        Assert.InRange(h.Engine.MaxAlive, 1, 4);
    }

    [Fact]
    public async Task Codex_contacts_nothing_but_the_model_provider()
    {
        // Every proxy-aware client in the container (Codex's HTTP client, git) is sent to the scripted server,
        // which records whatever it is asked for: a CONNECT to github.com would show up here.
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("quiet", ModelStep.Exec("git status --short"), ModelStep.Message("Nothing to do."));
        var proxy = $"http://{RealCodex.Gateway}:{model.Port}";
        await using var h = await RealCodex.HarnessAsync(docker, model, extraEnvironment: new Dictionary<string, string>
        {
            ["HTTPS_PROXY"] = proxy,
            ["https_proxy"] = proxy,
            ["HTTP_PROXY"] = proxy,
            ["http_proxy"] = proxy,
            ["ALL_PROXY"] = proxy,
            ["NO_PROXY"] = RealCodex.Gateway,
            ["no_proxy"] = RealCodex.Gateway,
        });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("quiet", ScriptedModelServer.Marker("quiet")))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.All(model.Requests, r => Assert.Equal(("POST", "/v1/responses"), (r.Method, r.Target)));
        Assert.Equal([0, 1], model.Requests.Select(r => r.Step));
    }

    private static void AssertPatchReproduces(RunnerHarness h, string baseCommit, string patch, IReadOnlyDictionary<string, string> files)
    {
        var clone = Path.Combine(Path.GetTempPath(), "sr-tests", Guid.NewGuid().ToString("N")[..12]);
        try
        {
            TestRepository.RunGit(Path.GetTempPath(), null, "clone", "-q", h.Repository.Path, clone);
            TestRepository.RunGit(clone, null, "checkout", "-q", "--detach", baseCommit);
            var bytes = Encoding.UTF8.GetBytes(patch);
            TestRepository.RunGit(clone, bytes, "apply", "--check", "-");
            TestRepository.RunGit(clone, bytes, "apply", "-");
            foreach (var (path, content) in files)
            {
                Assert.Equal(content, File.ReadAllText(Path.Combine(clone, path)));
            }
        }
        finally
        {
            Platform.TreeDeletion.Delete(clone);
        }
    }
}
