using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// The pipeline examples of docs/ci.md, which the README links, are the commands these tests run (see <see cref="ReadmePipeline"/>). Each
/// example runs as two jobs of a CI system would: each in a fresh depth-1 clone of an origin repository
/// holding <c>.mcp-codex.json</c> and <c>codex-tasks.json</c>, sharing an image cache folder. The first finds
/// the cache cold and saves the images; then the task image is removed from the engine, and the second job
/// only runs because its <c>docker load</c> brings it back. The yaml's own variables (GitLab's
/// <c>DOCKER_HOST: tcp://docker:2376</c> with TLS) are the CI system's: here the engine is this machine's; that they
/// describe TLS with client certificates is checked on its own.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class ReadmePipelineTests(DockerFixture docker)
{
    private static readonly TimeSpan JobBudget = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task The_GitHub_Actions_example_runs_cold_then_warm_from_its_image_cache_writes_its_reports_and_pushes_the_branches()
    {
        await using var pipeline = await Pipeline.CreateAsync(docker);
        var script = string.Join('\n', ReadmePipeline.Commands("github"));

        foreach (var (job, warm) in new[] { ("cold", false), ("warm", true) })
        {
            var runId = NewRunId($"readme-gh-{job}");
            var output = pipeline.FileIn($"{job}.github-output");
            var summary = pipeline.FileIn($"{job}.step-summary.md");
            var (clone, run) = await pipeline.RunJobAsync(job, script, new()
            {
                ["RUN_ID"] = runId,
                ["GITHUB_OUTPUT"] = output,
                ["GITHUB_STEP_SUMMARY"] = summary,
            });

            Assert.True(run.ExitCode == 0, $"{job} job: {run}");
            Assert.Matches("^key=images-[0-9a-f]{16}\n$", File.ReadAllText(output));
            Assert.True(File.Exists(Path.Combine(pipeline.Cache, "images.tar")), $"{job} job: no images.tar in the cache");
            Assert.Equal(warm, run.Stdout.Contains($"Loaded image: {pipeline.TaskImage}", StringComparison.Ordinal));
            pipeline.AssertReports(job);
            Assert.Contains("| task | status | files changed | duration | tokens | violations |", File.ReadAllText(summary), StringComparison.Ordinal);
            Assert.Equal([$"sandbox/{runId}/from-ci"], pipeline.OriginBranches($"sandbox/{runId}/*"));
            await pipeline.Harness.AssertNothingLeftAsync(clone);
            await pipeline.RemoveTaskImageAsync();
        }
    }

    [Fact]
    public async Task The_GitLab_CI_example_runs_cold_then_warm_from_its_image_cache_and_writes_its_reports()
    {
        await using var pipeline = await Pipeline.CreateAsync(docker);
        var script = string.Join('\n', ReadmePipeline.Commands("gitlab"));

        foreach (var (job, warm) in new[] { ("cold", false), ("warm", true) })
        {
            var jobId = Guid.NewGuid().ToString("N")[..12];
            var (clone, run) = await pipeline.RunJobAsync(job, script, new() { ["CI_JOB_ID"] = jobId });

            Assert.True(run.ExitCode == 0, $"{job} job: {run}");
            Assert.Single(Directory.GetFiles(pipeline.Cache, "*.tar"));
            Assert.Equal(warm, run.Stdout.Contains($"Loaded image: {pipeline.TaskImage}", StringComparison.Ordinal));
            pipeline.AssertReports(job);
            Assert.Equal($"sandbox/ci-{jobId}/from-ci", TestRepository.RunGit(clone, null, "branch", "--list", $"sandbox/ci-{jobId}/*", "--format=%(refname:short)").Trim());
            await pipeline.Harness.AssertNothingLeftAsync(clone);
            await pipeline.RemoveTaskImageAsync();
        }
    }

    [Fact]
    public void The_GitLab_CI_example_reaches_its_docker_in_docker_engine_over_tls_with_client_certificates()
    {
        // A plain tcp://docker:2375 let any container on that engine use its API (issue 21): the example must not teach it.
        var variables = ReadmePipeline.Variables("gitlab");
        var certs = Directory.CreateTempSubdirectory("sr-readme-certs-");
        try
        {
            foreach (var file in (string[])["ca.pem", "cert.pem", "key.pem"])
            {
                File.WriteAllText(Path.Combine(certs.FullName, file), "");
            }

            var connection = Boxes.Docker.EngineConnection.FromEnvironment(n => n == "DOCKER_CERT_PATH" ? certs.FullName : variables.GetValueOrDefault(n));

            Assert.True(connection.UsesTls, $"the GitLab example's engine is not reached over TLS: {string.Join(", ", variables)}");
            Assert.Equal(2376, connection.Endpoint.Port);
            Assert.Equal("/certs/client", variables["DOCKER_CERT_PATH"]);
            Assert.Equal("/certs", variables["DOCKER_TLS_CERTDIR"]);
        }
        finally
        {
            certs.Delete(recursive: true);
        }
    }

    /// <summary>An origin repository, the image cache the jobs share, and a task image of this test's own (removed afterwards).</summary>
    private sealed class Pipeline : IAsyncDisposable
    {
        private readonly DockerClient _client;

        private Pipeline(CliHarness harness, DockerClient client, string taskImage)
        {
            Harness = harness;
            _client = client;
            TaskImage = taskImage;
            Origin = harness.FileIn("origin.git");
            Cache = harness.FileIn("image-cache");
        }

        public CliHarness Harness { get; }

        /// <summary>The fake Codex under a tag of this test's own, so removing it from the engine disturbs nobody.</summary>
        public string TaskImage { get; }

        public string Origin { get; }

        public string Cache { get; }

        public static async Task<Pipeline> CreateAsync(DockerFixture docker)
        {
            var tag = $"readme-{Guid.NewGuid():N}"[..19];
            var image = $"sandbox-runner/fake-codex:{tag}";
            var harness = CliHarness.Create(docker, JsonSerializer.Serialize(new { image }));
            var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
            var pipeline = new Pipeline(harness, client, image);
            await client.Images.TagImageAsync(DockerFixture.FakeCodexImage, new ImageTagParameters { RepositoryName = "sandbox-runner/fake-codex", Tag = tag });
            File.WriteAllText(Path.Combine(harness.Repository.Path, "codex-tasks.json"), JsonSerializer.Serialize(new { tasks = new[] { TaskArg("from-ci", "@write src/from-ci.txt written in a pipeline\\n") } }));
            harness.Repository.Git("add", "-f", ".mcp-codex.json", "codex-tasks.json");
            harness.Repository.Git("commit", "-qm", "codex tasks for the pipeline");
            TestRepository.RunGit(harness.Folder, null, "clone", "-q", "--bare", harness.Repository.Path, pipeline.Origin);
            return pipeline;
        }

        public string FileIn(string name) => Harness.FileIn(name);

        /// <summary>Clones the origin as a CI checkout does (depth 1) and runs the job's commands in it.</summary>
        public async Task<(string Clone, CliResult Run)> RunJobAsync(string job, string script, Dictionary<string, string?> environment)
        {
            var clone = FileIn($"{job}-clone");
            TestRepository.RunGit(Harness.Folder, null, "clone", "-q", "--depth", "1", $"file://{Origin}", clone);
            Assert.True(File.Exists(Path.Combine(clone, ".git", "shallow")), "the job's clone is not shallow");
            environment["IMAGE_CACHE"] = Cache;
            environment["REPORTS"] = FileIn($"{job}-reports");
            return (clone, await CliProcess.RunScriptAsync(clone, script, environment, JobBudget));
        }

        /// <summary>The job's JUnit report is valid with the task as its one testcase, and its Markdown has the task table.</summary>
        public void AssertReports(string job)
        {
            var reports = FileIn($"{job}-reports");
            var testcase = Assert.Single(CliJunitReportTests.Validated(Path.Combine(reports, "junit.xml")).Descendants("testcase"));
            Assert.Equal("from-ci", (string?)testcase.Attribute("name"));
            Assert.Null(testcase.Element("failure"));
            Assert.Contains("| from-ci | ✅ success | 1 |", File.ReadAllText(Path.Combine(reports, "summary.md")), StringComparison.Ordinal);
        }

        public IReadOnlyList<string> OriginBranches(string pattern) =>
            TestRepository.RunGit(Origin, null, "branch", "--list", pattern, "--format=%(refname:short)").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        /// <summary>Takes this test's tag off the engine (the image itself stays: other tags name it), as a fresh CI machine lacks it.</summary>
        public async Task RemoveTaskImageAsync()
        {
            try
            {
                await _client.Images.DeleteImageAsync(TaskImage, new ImageDeleteParameters { Force = false });
            }
            catch (DockerImageNotFoundException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await RemoveTaskImageAsync();
            }
            finally
            {
                _client.Dispose();
                await Harness.DisposeAsync();
            }
        }
    }
}
