using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>Runs against a second engine that cannot see this machine's files (Docker in Docker over TCP).</summary>
[Collection(RemoteEngineCollection.Name)]
public sealed class RemoteEngineTests(RemoteEngineFixture remote, DockerFixture host)
{
    private static TaskRequest Sibling => RunnerHarness.Task("sibling", "@write src/sibling.txt fine\\n", "@message sibling done");

    [Fact]
    public async Task The_probe_finds_that_the_second_engine_cannot_see_this_machine_and_the_host_engine_can()
    {
        Assert.False(await remote.Engine.SharesHostFilesAsync(DockerFixture.FakeCodexImage, CancellationToken.None));
        Assert.True(await host.Engine.SharesHostFilesAsync(DockerFixture.FakeCodexImage, CancellationToken.None));
    }

    [Fact]
    public async Task A_run_there_picks_the_copy_transport_and_keeps_added_modified_deleted_and_binary_changes()
    {
        await using var h = await remote.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "edit",
            "@write src/new.txt brand new\\n",
            "@append README.md more docs\\n",
            "@delete docs/old.txt",
            "@binary src/data.bin 300",
            "@run 0 git status --short && git log --oneline",
            "@message All done."))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(["README.md", "docs/old.txt", "src/data.bin", "src/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.Contains("GIT binary patch", result.Patch, StringComparison.Ordinal);
        Assert.Equal(0, Assert.Single(result.CommandsRun).ExitCode);
        Assert.Equal("brand new\n", h.Repository.Git("show", $"{result.Branch}:src/new.txt"));
        Assert.Empty(Assert.Single(h.Engine.Specs.Values, s => s.Labels.GetValueOrDefault(Boxes.Labels.Role) is null).Mounts);
        Assert.All(h.Engine.Specs.Values, s => Assert.Empty(s.Mounts));
    }

    [Fact]
    public async Task Hostile_trees_there_are_judged_as_on_the_host_fifo_escaping_link_git_links_and_invalid_names()
    {
        await using var h = await remote.HarnessAsync();

        var run = await h.RunAsync(
            RunnerHarness.Task("fifo", "@write src/kept.txt kept\\n", "@run 0 mkfifo src/.gitignore"),
            RunnerHarness.Task("escape", "@symlink src/passwd /etc/passwd", "@symlink src/hooks ../.git/hooks", "@run 0 ln src/../README.md src/hard.md"),
            RunnerHarness.Task("utf8", "@run 0 printf x > \"$(printf 'src/bad\\377')\"", "@write src/ok.txt ok\\n"),
            Sibling);

        var fifo = run.Results.Single(r => r.TaskId == "fifo");
        Assert.Contains(fifo.Violations, v => v.Kind == ViolationKind.SpecialFile && v.Path == "src/.gitignore");
        Assert.Equal(["src/kept.txt"], fifo.FilesChanged);
        var escape = run.Results.Single(r => r.TaskId == "escape");
        Assert.Equal(TaskStatus.Failed, escape.Status);
        Assert.Contains(escape.Violations, v => v.Kind == ViolationKind.SymlinkEscape && v.Path == "src/passwd");
        Assert.Contains(escape.Violations, v => v.Kind == ViolationKind.GitDirectory && v.Path == "src/hooks");
        Assert.Contains("src/hard.md", escape.FilesChanged);
        var utf8 = run.Results.Single(r => r.TaskId == "utf8");
        Assert.Equal(TaskStatus.Failed, utf8.Status);
        Assert.Contains(utf8.Violations, v => v.Kind == ViolationKind.UnsafePath);
        Assert.Equal(TaskStatus.Success, run.Results.Single(r => r.TaskId == "sibling").Status);
    }

    [Fact]
    public async Task A_tree_over_its_limit_there_is_stopped_when_copied_back_and_not_harvested()
    {
        await using var h = await remote.HarnessAsync(c => c with
        {
            TaskLimits = new Configuration.TaskLimitOverrides { MaxTreeBytes = 8L * 1024 * 1024 },
        });

        var run = await h.RunAsync(RunnerHarness.Task("big", "@run 0 head -c 20000000 /dev/zero > src/big.bin"), Sibling);

        var result = run.Results.Single(r => r.TaskId == "big");
        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("max_tree_bytes", StringComparison.Ordinal));
        Assert.Empty(result.FilesChanged);
        var sibling = run.Results.Single(r => r.TaskId == "sibling");
        Assert.True(sibling.Status == TaskStatus.Success, $"sibling: {sibling.Status}: {sibling.NotesForManager}");
        Assert.Equal(["src/sibling.txt"], sibling.FilesChanged);
    }

    [Fact]
    public async Task Over_tls_the_engine_is_reached_with_the_certificates_of_docker_cert_path()
    {
        var env = new Dictionary<string, string> { ["DOCKER_HOST"] = remote.TlsEndpoint.ToString(), ["DOCKER_TLS_VERIFY"] = "1", ["DOCKER_CERT_PATH"] = remote.CertPath };
        var connection = EngineConnection.FromEnvironment(n => env.GetValueOrDefault(n));
        using var engine = new DockerEngine(Microsoft.Extensions.Logging.Abstractions.NullLogger<DockerEngine>.Instance, connection);

        await using var h = await remote.HarnessAsync(engine);
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("tls", "@write src/tls.txt over tls\\n"))).Results);

        Assert.True(connection.UsesTls);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.Equal(["src/tls.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task Without_a_client_certificate_the_tls_engine_refuses_and_the_error_names_the_endpoint()
    {
        using var engine = new DockerEngine(Microsoft.Extensions.Logging.Abstractions.NullLogger<DockerEngine>.Instance, new EngineConnection(remote.TlsEndpoint));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.PingAsync(CancellationToken.None));

        Assert.Contains($"cannot reach the Docker engine at {remote.TlsEndpoint}", error.Message, StringComparison.Ordinal);
        Assert.Contains("DOCKER_HOST", error.Message, StringComparison.Ordinal);
    }
}
