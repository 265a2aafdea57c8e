using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>sandbox_doctor over MCP: each check with its status, and a fix for each failure.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpDoctorTests(DockerFixture docker)
{
    [Fact]
    public async Task The_doctor_reports_repository_config_docker_image_runtime_auth_network_and_model_api_checks()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var report = await s.Server.CallOkAsync("sandbox_doctor");

        var checks = Checks(report);
        Assert.Equal(["repository", "config", "docker", "image", "runtime", "auth", "network", "model-api"], checks.Keys);
        Assert.Equal("ok", checks["repository"].GetProperty("status").GetString());
        Assert.Equal("ok", checks["config"].GetProperty("status").GetString());
        Assert.Equal("ok", checks["image"].GetProperty("status").GetString());
        Assert.Contains(DockerFixture.FakeCodexImage, checks["image"].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("ok", checks["network"].GetProperty("status").GetString());
        // Whether api.openai.com answers depends on the machine (CI has no way out): never a failure either way.
        Assert.NotEqual("fail", checks["model-api"].GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_docker_check_gives_the_engines_api_version()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var report = await s.Server.CallOkAsync("sandbox_doctor");

        var check = Checks(report)["docker"];
        Assert.Equal("ok", check.GetProperty("status").GetString());
        Assert.Contains($"API {docker.ApiVersion}", check.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_codex_api_key_in_the_servers_environment_auth_fails_with_a_fix_and_the_report_is_not_ok()
    {
        await using var s = await McpHarness.StartAsync(docker, environment: new Dictionary<string, string?> { ["CODEX_API_KEY"] = null });

        var report = await s.Server.CallOkAsync("sandbox_doctor");

        var auth = Checks(report)["auth"];
        Assert.Equal("fail", auth.GetProperty("status").GetString());
        Assert.Contains("CODEX_API_KEY", auth.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("CODEX_API_KEY", auth.GetProperty("fix").GetString(), StringComparison.Ordinal);
        Assert.False(report.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task With_codex_api_key_set_for_the_server_auth_passes_and_the_report_is_ok()
    {
        await using var s = await McpHarness.StartAsync(docker, environment: new Dictionary<string, string?> { ["CODEX_API_KEY"] = "sk-test-not-a-real-key" });

        var report = await s.Server.CallOkAsync("sandbox_doctor");

        var auth = Checks(report)["auth"];
        Assert.Equal("ok", auth.GetProperty("status").GetString());
        Assert.DoesNotContain("sk-test-not-a-real-key", report.ToString(), StringComparison.Ordinal);
        Assert.True(report.GetProperty("ok").GetBoolean(), report.ToString());
    }

    [Fact]
    public async Task A_missing_image_fails_the_image_check_with_a_fix()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "image": "sandbox-runner/no-such-image:none" }""");

        var report = await s.Server.CallOkAsync("sandbox_doctor");

        var image = Checks(report)["image"];
        Assert.Equal("fail", image.GetProperty("status").GetString());
        Assert.Contains("sandbox-runner/no-such-image:none", image.GetProperty("fix").GetString(), StringComparison.Ordinal);
        Assert.False(report.GetProperty("ok").GetBoolean());
    }

    private static Dictionary<string, JsonElement> Checks(JsonElement report) =>
        report.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("check").GetString()!, c => c);
}
