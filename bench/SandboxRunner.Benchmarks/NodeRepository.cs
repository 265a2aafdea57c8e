using System.Diagnostics;
using SandboxRunner.Environments;
using SandboxRunner.Configuration;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// A Node repository whose <c>npm ci</c> installs well over 100 MB of real packages, with a toolchain image
/// built from a Dockerfile in the repository: what a team's web project looks like to the runner.
/// </summary>
internal static class NodeRepository
{
    public const string DockerfilePath = "env/node.Dockerfile";
    public const string SetupCommand = "npm ci --no-audit --no-fund";

    public static readonly EnvironmentSpec Environment = new()
    {
        Dockerfile = DockerfilePath,
        Setup = [SetupCommand],

        // Setup sees only these: npm ci reads the manifest and the lock file.
        CacheKeys = ["package.json", "package-lock.json"],
    };

    /// <summary>
    /// Build, lint and test tools a web project commonly carries; exact versions so every benchmark installs
    /// about the same tree (their own dependencies still follow the registry's newest matching releases).
    /// All of them run on Debian 12's Node 18.
    /// </summary>
    private static readonly (string Name, string Version)[] DevDependencies =
    [
        ("typescript", "5.6.3"), ("@babel/core", "7.26.0"), ("eslint", "8.57.1"), ("webpack", "5.96.1"), ("jest", "29.7.0"),
        ("prettier", "3.3.3"), ("vite", "5.4.11"), ("rxjs", "7.8.1"), ("lodash", "4.17.21"), ("@types/node", "22.9.0"),
        ("ts-node", "10.9.2"), ("three", "0.170.0"),
    ];

    /// <summary>Where this machine keeps the CAs it trusts: its egress passes a TLS-inspecting proxy, so npm in the toolchain image needs them too.</summary>
    private const string HostCertificates = "/usr/local/share/ca-certificates";

    /// <summary>
    /// Node and npm from Debian (no image registry is reachable here, Debian's mirror is), trusting the CAs
    /// copied from this machine. The session line changes the Dockerfile's blob, and with it every image key
    /// the runner derives from it, so the benchmark's first run is cold for the runner; Docker's own layer
    /// cache may still hold the apt-get layer from an earlier build of the same steps.
    /// </summary>
    private static string Dockerfile(string session) => $"""
        # sandbox-runner benchmark session {session}
        FROM debian:bookworm-slim
        RUN apt-get update \
            && apt-get install -y --no-install-recommends nodejs npm git bash ca-certificates \
            && rm -rf /var/lib/apt/lists/*
        COPY env/ca/ /usr/local/share/ca-certificates/
        RUN update-ca-certificates
        ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt

        """;

    /// <summary>The repository at <paramref name="path"/>, its lock file resolved on this machine by npm; returns how long npm took.</summary>
    public static async Task<TimeSpan> CreateAsync(string path, string session, CancellationToken cancellationToken)
    {
        await Repositories.InitAsync(path, cancellationToken);
        Repositories.Write(path, DockerfilePath, Dockerfile(session));
        Repositories.Write(path, "env/ca/README", "CA certificates (*.crt) the toolchain image trusts.\n");
        foreach (var ca in Directory.Exists(HostCertificates) ? Directory.GetFiles(HostCertificates, "*.crt") : [])
        {
            Repositories.Write(path, $"env/ca/{Path.GetFileName(ca)}", await File.ReadAllTextAsync(ca, cancellationToken));
        }

        var dependencies = string.Join(",\n", DevDependencies.Select(d => $"    \"{d.Name}\": \"{d.Version}\""));
        Repositories.Write(path, "package.json", $$"""
            {
              "name": "sandbox-runner-environment-bench",
              "version": "1.0.0",
              "private": true,
              "scripts": { "test": "node --test test/" },
              "devDependencies": {
            {{dependencies}}
              }
            }

            """);
        Repositories.Write(path, "src/index.js", "module.exports = (a, b) => a + b;\n");
        Repositories.Write(path, "test/index.test.js", "const test = require('node:test');\nconst assert = require('node:assert');\ntest('adds', () => assert.equal(require('../src/index.js')(1, 2), 3));\n");
        Repositories.Write(path, ".gitignore", "node_modules/\n");

        var started = Stopwatch.GetTimestamp();
        await Shell.RunAsync("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], cancellationToken, workingDirectory: path);
        var npm = Stopwatch.GetElapsedTime(started);

        await Shell.GitAsync(path, cancellationToken, "add", "-A");
        await Shell.GitAsync(path, cancellationToken, "commit", "-qm", "a web project with its build, lint and test tools");
        return npm;
    }
}
