using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using TaskStatus = SandboxRunner.Runs.TaskStatus;
using SandboxRunner.Configuration;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// A real toolchain: Node and npm from Debian, built from a Dockerfile in the repository, a real dependency
/// installed from the npm registry by <c>npm ci</c> in setup, and the real Codex CLI (scripted model) running
/// the repository's own tests inside the task.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class NodeToolchainTests(DockerFixture docker)
{
    /// <summary>
    /// Node and npm from Debian's packages (no image registry is reachable here, Debian's mirror is), trusting
    /// the CAs this machine trusts: where egress passes a TLS-inspecting proxy, as here, npm needs its CA, as
    /// a team behind one puts it in its own dev image.
    /// </summary>
    public const string Dockerfile = """
        FROM debian:bookworm-slim
        RUN apt-get update \
            && apt-get install -y --no-install-recommends nodejs npm git bash ca-certificates \
            && rm -rf /var/lib/apt/lists/*
        COPY env/ca/ /usr/local/share/ca-certificates/
        RUN update-ca-certificates
        ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
        """;

    public const string PackageJson = """
        {
          "name": "sandbox-runner-node-fixture",
          "version": "1.0.0",
          "private": true,
          "scripts": { "test": "node --test test/" },
          "dependencies": { "semver": "7.6.3" }
        }
        """;

    public const string PackageLock = """
        {
          "name": "sandbox-runner-node-fixture",
          "version": "1.0.0",
          "lockfileVersion": 3,
          "requires": true,
          "packages": {
            "": {
              "name": "sandbox-runner-node-fixture",
              "version": "1.0.0",
              "dependencies": { "semver": "7.6.3" }
            },
            "node_modules/semver": {
              "version": "7.6.3",
              "resolved": "https://registry.npmjs.org/semver/-/semver-7.6.3.tgz",
              "integrity": "sha512-oVekP1cKtI+CTDvHWYFUcMtsK/00wmAEfyqKfNdARm8u1wNVhSgaX7A8d4UuIlUI5e84iEwOhs7ZPYRmzU9U6A==",
              "license": "ISC",
              "bin": { "semver": "bin/semver.js" },
              "engines": { "node": ">=10" }
            }
          }
        }
        """;

    public const string TestFile = """
        const test = require('node:test');
        const assert = require('node:assert');
        const semver = require('semver');

        test('semver orders versions', () => {
          assert.ok(semver.gt('1.2.3', '1.2.0'));
        });
        """;

    public static readonly EnvironmentSpec Spec = new()
    {
        Dockerfile = "env/node.Dockerfile",
        Setup = ["npm ci --no-audit --no-fund"],

        // Setup sees only these: npm ci reads the manifest and the lock file.
        CacheKeys = ["package.json", "package-lock.json"],
    };

    internal static void WriteNodeRepository(TestRepository repository)
    {
        repository.Write("env/node.Dockerfile", Dockerfile + "\n");
        repository.Write("env/ca/README", "CA certificates (*.crt) the toolchain image trusts.\n");
        const string hostCas = "/usr/local/share/ca-certificates";
        foreach (var ca in Directory.Exists(hostCas) ? Directory.GetFiles(hostCas, "*.crt") : [])
        {
            repository.Write($"env/ca/{Path.GetFileName(ca)}", File.ReadAllText(ca));
        }

        repository.Write("package.json", PackageJson + "\n");
        repository.Write("package-lock.json", PackageLock + "\n");
        repository.Write("test/semver.test.js", TestFile + "\n");
        repository.Write(".gitignore", "node_modules/\n");
        repository.Git("add", "-A");
        repository.Git("commit", "-qm", "a node package with a real dependency");
    }

    [Fact]
    public async Task The_real_codex_runs_npm_test_inside_the_task_and_it_passes_with_the_dependency_setup_installed()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("node", ModelStep.Exec("npm test"), ModelStep.Message("Tests pass."));
        await using var h = await RealCodex.HarnessAsync(docker, model, c => c with { Environment = Spec });
        WriteNodeRepository(h.Repository);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("node", "Run the tests.", ScriptedModelServer.Marker("node")))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        var command = Assert.Single(result.CommandsRun);
        Assert.Equal(("/bin/bash -lc 'npm test'", (int?)0), (command.Cmd, command.ExitCode));
        Assert.Contains("pass 1", result.Evidence, StringComparison.Ordinal);
        Assert.Empty(result.FilesChanged);
        Assert.Equal("Tests pass.", result.Summary);
    }

    [Fact]
    public async Task A_second_run_on_the_same_lock_file_does_not_run_npm_ci_again()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = Spec });
        WriteNodeRepository(h.Repository);

        var first = Assert.Single((await h.RunAsync(RunnerHarness.Task("first", "@run 0 node -e \"require('semver')\"", "@message one"))).Results);
        var second = Assert.Single((await h.RunAsync(RunnerHarness.Task("second", "@run 0 test -d node_modules/semver", "@message two"))).Results);

        Assert.Equal(0, Assert.Single(first.CommandsRun).ExitCode);
        Assert.Equal(0, Assert.Single(second.CommandsRun).ExitCode);
        Assert.Contains(h.Progress, p => p.TaskId == "second" && p.Message.Contains("setup reused", StringComparison.Ordinal));
    }
}
