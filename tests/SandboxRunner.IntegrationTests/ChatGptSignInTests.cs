using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Docker.DotNet;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// Sign in with ChatGPT (issue 13) with the real Codex 0.169 in a task, a scripted ChatGPT backend and a scripted
/// token endpoint on this machine: the tokens stay on the host and with the egress proxy, the task holds placeholders.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ChatGptSignInTests(DockerFixture docker)
{
    private const string EditPatch = "*** Begin Patch\n*** Add File: src/hello.txt\n+hello from a ChatGPT sign-in\n*** End Patch";

    [Fact]
    public async Task A_signed_in_task_edits_through_the_proxy_which_adds_the_refreshed_token_and_account_id_and_no_real_token_reaches_the_container()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        using var host = new ChatGptHost(DateTimeOffset.UtcNow.AddHours(-1));
        var refreshes = new List<JsonObject>();
        var issued = host.RefreshAnswer(DateTimeOffset.UtcNow.AddDays(10));
        model.TokenEndpoint = body =>
        {
            refreshes.Add(JsonNode.Parse(body)!.AsObject());
            return (200, new JsonObject { ["id_token"] = issued.Id, ["access_token"] = issued.Access, ["refresh_token"] = issued.Refresh }.ToJsonString());
        };
        model.Scenario(
            "signed-in",
            ModelStep.Exec("env; cat /codex-home/auth.json; tar -C /tmp -cf /codex-home/tmp-copy.tar . 2>/dev/null; true"),
            ModelStep.ApplyPatch(EditPatch),
            ModelStep.Message("Added src/hello.txt."));
        var leaks = new List<string>();
        await using var h = await HarnessAsync(model, host);
        h.Engine.BeforeRemove = async (id, spec) =>
        {
            if (spec.Image == h.Runner.Image)
            {
                leaks.AddRange(await LeaksInContainerAsync(id, spec, host.RealValues));
            }
        };

        var run = await h.RunAsync(RunnerHarness.Task("signed-in", "Add a greeting.", ScriptedModelServer.Marker("signed-in")));

        var result = Assert.Single(run.Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(["src/hello.txt"], result.FilesChanged);
        Assert.Equal("chatgpt", result.Auth);

        // Refreshed on the host before the run, once, the way Codex refreshes.
        var refresh = Assert.Single(refreshes);
        Assert.Equal(host.RefreshToken, (string?)refresh["refresh_token"]);
        Assert.Equal("refresh_token", (string?)refresh["grant_type"]);
        Assert.Equal(Auth.ChatGptSignIn.ClientId, (string?)refresh["client_id"]);

        // The backend got the real (refreshed) token and account id on every turn; the placeholders stayed behind.
        var turns = model.RequestsFor("signed-in");
        Assert.Equal([0, 1, 2], turns.Select(r => r.Step));
        Assert.All(turns, r =>
        {
            Assert.Equal(ScriptedModelServer.ChatGptResponsesPath, r.Target);
            Assert.Equal($"Bearer {issued.Access}", r.Header("Authorization"));
            Assert.Equal(host.AccountId, r.Header("ChatGPT-Account-ID"));
        });

        // Inside: placeholders only, in the environment, the filesystem (exported before removal, mounts, /tmp) and the logs.
        Assert.Contains(Auth.PlaceholderSignIn.AccountId, result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(h.Repository.Path, RunStore.FolderName, run.RunId), "*", SearchOption.AllDirectories))
        {
            var text = await File.ReadAllTextAsync(file);
            Assert.DoesNotContain(host.RealValues, v => text.Contains(v, StringComparison.Ordinal));
        }

        var reply = System.Text.Json.JsonSerializer.Serialize(run);
        Assert.DoesNotContain(host.RealValues, v => reply.Contains(v, StringComparison.Ordinal));

        // The host's auth.json holds the refreshed tokens, mode 0600, and the host's own Codex still reads it.
        var stored = host.AuthJson();
        Assert.Equal(issued.Access, (string?)stored["tokens"]!["access_token"]);
        Assert.Equal(issued.Refresh, (string?)stored["tokens"]!["refresh_token"]);
        Assert.Equal(host.AccountId, (string?)stored["tokens"]!["account_id"]);
        Assert.True(DateTimeOffset.Parse((string)stored["last_refresh"]!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(host.AuthFilePath));
        Assert.Contains("ChatGPT", await HostCodexLoginStatusAsync(h.Runner.Image, host.CodexHome), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plan_review_uses_the_same_sign_in_through_the_proxy()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        using var host = new ChatGptHost(DateTimeOffset.UtcNow.AddDays(5));
        const string Answer = """{"missing_tasks":[],"dependency_issues":[],"parallelization_suggestions":[],"test_gaps":["no test for login"],"risk_flags":[],"recommended_task_splits":[]}""";
        model.Scenario("review", ModelStep.Message(Answer));
        await using var h = await HarnessAsync(model, host);

        var review = await PlanReview.ReviewAsync(h.Runner, $"1. Add login\n{ScriptedModelServer.Marker("review")}", null, null, CancellationToken.None);

        Assert.Equal(["no test for login"], review.Report.TestGaps);
        var turn = Assert.Single(model.RequestsFor("review"));
        Assert.Equal($"Bearer {host.AccessToken}", turn.Header("Authorization"));
        Assert.Equal(host.AccountId, turn.Header("ChatGPT-Account-ID"));
    }

    [Fact]
    public async Task A_revoked_refresh_token_refuses_the_run_before_any_container_with_an_error_naming_codex_login()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        using var host = new ChatGptHost(DateTimeOffset.UtcNow.AddMinutes(-5));
        model.TokenEndpoint = _ => (401, """{"error":{"code":"refresh_token_invalidated","message":"revoked"}}""");
        var before = await File.ReadAllTextAsync(host.AuthFilePath);
        await using var h = await HarnessAsync(model, host);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(RunnerHarness.Task("t", "anything")));

        Assert.Contains("codex login", error.Message, StringComparison.Ordinal);
        Assert.Contains("revoked", error.Message, StringComparison.Ordinal);
        Assert.Empty(h.Engine.Specs);
        Assert.Equal(before, await File.ReadAllTextAsync(host.AuthFilePath));
    }

    [Fact]
    public async Task A_hostile_task_reaches_no_other_backend_path_and_no_token_endpoint_with_the_real_token()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        using var host = new ChatGptHost(DateTimeOffset.UtcNow.AddDays(5));
        var refreshes = 0;
        model.TokenEndpoint = _ =>
        {
            Interlocked.Increment(ref refreshes);
            return (500, "{}");
        };

        // Raw HTTP from inside: other backend paths (plain, traversing, encoded), the wrong method, the refresh
        // endpoint Codex is pointed at, and the real token endpoint and backend through the forward proxy.
        const string Probe = """
            ask() { exec 3<>/dev/tcp/sandbox-proxy/8080 && printf "$1 $2 HTTP/1.1\r\nHost: sandbox-proxy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" >&3 && head -1 <&3; exec 3>&-; }
            ask GET /backend-api/me
            ask GET /backend-api/wham/accounts/check
            ask GET '/backend-api/codex/responses/../../conversations'
            ask GET '/backend-api/codex/..%2F..%2Fconversations'
            ask DELETE /backend-api/codex/responses
            ask POST "$CODEX_REFRESH_TOKEN_URL_OVERRIDE"
            ask POST /oauth/token
            exec 3<>/dev/tcp/sandbox-proxy/3128 && printf "CONNECT auth.openai.com:443 HTTP/1.1\r\nHost: auth.openai.com:443\r\n\r\n" >&3 && head -1 <&3; exec 3>&-
            exec 3<>/dev/tcp/sandbox-proxy/3128 && printf "GET $PROXY_PROBE_BACKEND/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3 && head -1 <&3; exec 3>&-
            true
            """;
        model.Scenario("probe", ModelStep.Exec(Probe.Replace("$PROXY_PROBE_BACKEND", model.ChatGptBaseUrlFor(RealCodex.Gateway), StringComparison.Ordinal)), ModelStep.Message("Probed."));
        await using var h = await HarnessAsync(model, host);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("probe", ScriptedModelServer.Marker("probe")))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        var statuses = result.CommandsRun[0].OutputTail.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
        Assert.Equal(9, statuses.Count);
        Assert.All(statuses, s => Assert.Contains(" 403 ", s + " ", StringComparison.Ordinal));

        // Only Codex's own requests reached the backend (its turns and model catalog, on the fixed paths); no refresh reached any token endpoint.
        Assert.All(model.Requests, r => Assert.Matches(@"^/backend-api/codex/(responses|models\?client_version=0\.169\.0)$", r.Target));
        Assert.Contains(model.Requests, r => r.Target == ScriptedModelServer.ChatGptResponsesPath);
        Assert.Equal(0, refreshes);
    }

    private Task<RunnerHarness> HarnessAsync(ScriptedModelServer model, ChatGptHost host)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CODEX_HOME"] = host.CodexHome,
            [Auth.ChatGptSignIn.TokenUrlVariable] = $"http://127.0.0.1:{model.Port}{ScriptedModelServer.TokenPath}",
            [Auth.CredentialResolver.BackendVariable] = model.ChatGptBaseUrlFor(RealCodex.Gateway),
        };
        return RunnerHarness.CreateAsync(
            docker,
            c => c with
            {
                Image = null,
                CodexVersion = "0.169.0",
                CodexModel = "gpt-5.5",
                NetworkPolicy = NetworkPolicy.Deny,
                CodexConfigOverrides = [.. RealCodex.Offline],
                EnvPassthrough = [],
            },
            name => environment.GetValueOrDefault(name));
    }

    /// <summary>
    /// Where a real value shows in the container: its configured environment, its whole filesystem as the engine
    /// exports it (image and writable layer), and the host folders mounted into it (the tree, CODEX_HOME with the copy of /tmp).
    /// </summary>
    private async Task<IReadOnlyList<string>> LeaksInContainerAsync(string id, Boxes.Docker.ContainerSpec spec, IReadOnlyList<string> values)
    {
        var leaks = new List<string>();
        var needles = values.Select(v => Encoding.UTF8.GetBytes(v)).ToList();
        leaks.AddRange(spec.Environment.Where(kv => values.Any(v => kv.Value.Contains(v, StringComparison.Ordinal))).Select(kv => $"environment {kv.Key}"));

        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        var inspected = await client.Containers.InspectContainerAsync(id);
        leaks.AddRange((inspected.Config?.Env ?? []).Where(e => values.Any(v => e.Contains(v, StringComparison.Ordinal))).Select(e => $"engine environment {e.Split('=')[0]}"));
        await using (var export = await client.Containers.ExportContainerAsync(id, CancellationToken.None))
        {
            if (await ApiHolder.ContainsAnyAsync(export, needles))
            {
                leaks.Add("the exported container filesystem");
            }
        }

        foreach (var mount in spec.Mounts.Where(m => !m.ReadOnly))
        {
            Assert.True(File.Exists(Path.Combine(mount.Source, "tmp-copy.tar")) || mount.Target != Codex.CodexCommandLine.Home, "the task's copy of /tmp is missing");
            foreach (var file in Directory.EnumerateFiles(mount.Source, "*", SearchOption.AllDirectories))
            {
                await using var stream = File.OpenRead(file);
                if (await ApiHolder.ContainsAnyAsync(stream, needles))
                {
                    leaks.Add($"{mount.Target}{file[mount.Source.Length..]}");
                }
            }
        }

        return leaks;
    }

    /// <summary><c>codex login status</c> of the task image's Codex 0.169 on the host's CODEX_HOME: does Codex still read the refreshed file?</summary>
    private static async Task<string> HostCodexLoginStatusAsync(string image, string codexHome)
    {
        var psi = new ProcessStartInfo("docker", ["run", "--rm", "--network", "none", "-u", "0:0", "-e", "CODEX_HOME=/h", "-v", $"{codexHome}:/h", "--entrypoint", "codex", image, "login", "status"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return $"{await stdout}{await stderr}";
    }
}
