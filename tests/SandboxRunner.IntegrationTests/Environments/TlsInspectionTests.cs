using System.Net;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// A network that inspects TLS, played by an HTTPS server on this machine whose certificate only a test authority
/// signs: setup and tasks fail to reach it, with a message that names extra_ca_certs, until the config trusts
/// that authority; then both reach it.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class TlsInspectionTests(DockerFixture docker) : IAsyncLifetime
{
    private readonly TestCertificateAuthority _authority = new("sandbox-runner test inspection CA");
    private readonly string _folder = Directory.CreateTempSubdirectory("sr-ca-").FullName;
    private GitHttpsServer _server = null!;

    private string Url => $"https://{RealCodex.Gateway}:{_server.Port}/repo.git";

    private string CaFile => Path.Combine(_folder, "inspection-ca.pem");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(CaFile, _authority.Pem);
        _server = await GitHttpsServer.StartAsync(_authority.IssueServer(IPAddress.Parse(RealCodex.Gateway)));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _authority.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task<RunnerHarness> HarnessAsync(IReadOnlyList<string> extraCaCerts)
    {
        var h = await RunnerHarness.CreateAsync(docker, c => c with
        {
            NetworkPolicy = NetworkPolicy.Allow,
            ExtraCaCerts = extraCaCerts,
            Environment = new EnvironmentSpec
            {
                BaseImage = "debian:bookworm-slim",
                Setup = [$"GIT_TERMINAL_PROMPT=0 git ls-remote {Url} > deps.txt"],
                CacheKeys = ["deps.lock"],
            },
        });
        h.Repository.Write(".gitignore", "deps.txt\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    [Fact]
    public async Task Without_the_option_setup_fails_on_the_untrusted_authority_and_the_message_names_extra_ca_certs()
    {
        await using var h = await HarnessAsync([]);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("t", "@message never"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains("server certificate verification failed", result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("trust it for setup and tasks with \"extra_ca_certs\" in .mcp-codex.json", result.NotesForManager.Split('\n')[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_the_authoritys_file_in_extra_ca_certs_setup_and_the_task_reach_the_server()
    {
        await using var h = await HarnessAsync([CaFile]);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "t",
            "@run 0 grep -q " + GitHttpsServer.Head + " deps.txt",
            $"@run 0 git ls-remote {Url}",
            "@run 0 test -s \"$NODE_EXTRA_CA_CERTS\" && test \"$SSL_CERT_FILE\" = \"$GIT_SSL_CAINFO\"",
            "@message reached"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.All(result.CommandsRun, c => Assert.True(c.ExitCode == 0, $"{c.Cmd} exited {c.ExitCode}:\n{result.Evidence}"));
        Assert.Contains(GitHttpsServer.Head, result.Evidence, StringComparison.Ordinal);
        Assert.Contains(_server.Requests, p => p.EndsWith("/info/refs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_that_is_not_there_is_refused_before_anything_starts()
    {
        await using var h = await HarnessAsync(["/nonexistent/corp-root.pem"]);

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(RunnerHarness.Task("t", "@message never")));

        Assert.Equal(
            ".mcp-codex.json: extra_ca_certs[0]: '/nonexistent/corp-root.pem' does not exist; name a PEM file of the authority's certificate (-----BEGIN CERTIFICATE-----), or \"host\"",
            refused.Message);
        Assert.Empty(h.Engine.Specs);
    }
}
