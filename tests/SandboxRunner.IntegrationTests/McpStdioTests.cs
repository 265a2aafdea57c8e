using System.Diagnostics;
using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// The raw stdio contract, without the SDK's client: stdout carries JSON-RPC messages and nothing else,
/// even with <c>--verbose</c>; logs go to stderr.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpStdioTests(DockerFixture docker)
{
    [Fact]
    public async Task With_verbose_every_stdout_line_is_a_json_rpc_message_and_the_log_is_on_stderr()
    {
        using var repository = new TestRepository();
        McpServerProcess.WriteConfig(repository);
        using var process = StartServer(repository.Path, "--verbose");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = new List<string>();
        try
        {
            await SendAsync(process, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw-test","version":"1.0"}}}""");
            stdout.Add(await ReadUntilResponseAsync(process, 1, stdout));
            await SendAsync(process, """{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            await SendAsync(process, """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sandbox_doctor","arguments":{}}}""");
            stdout.Add(await ReadUntilResponseAsync(process, 2, stdout));
        }
        finally
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(15)))
            {
                process.Kill(entireProcessTree: true);
            }
        }

        stdout.AddRange((await process.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.All(stdout, line =>
        {
            using var message = JsonDocument.Parse(line);
            Assert.Equal(JsonValueKind.Object, message.RootElement.ValueKind);
            Assert.Equal("2.0", message.RootElement.GetProperty("jsonrpc").GetString());
        });
        using (var doctor = JsonDocument.Parse(stdout.Single(l => l.Contains("\"id\":2", StringComparison.Ordinal))))
        {
            Assert.True(doctor.RootElement.GetProperty("result").TryGetProperty("structuredContent", out var report));
            Assert.Equal(8, report.GetProperty("checks").GetArrayLength());
        }

        var log = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(log, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (dbug|info): "));
        Assert.DoesNotContain(log, l => l.StartsWith("{\"jsonrpc\"", StringComparison.Ordinal));
        using var containers = new SandboxContainers(docker);
        await containers.AssertNoneLeftAsync(repository.Path);
    }

    [Fact]
    public async Task Progress_notifications_for_queued_started_each_command_and_finished_precede_the_response_in_order()
    {
        using var repository = new TestRepository();
        McpServerProcess.WriteConfig(repository);
        using var process = StartServer(repository.Path);
        _ = process.StandardError.ReadToEndAsync();
        var stdout = new List<string>();
        try
        {
            await SendAsync(process, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw-test","version":"1.0"}}}""");
            await ReadUntilResponseAsync(process, 1, stdout);
            await SendAsync(process, """{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            await SendAsync(process, """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_codex_tasks","arguments":{"tasks":[{"task_id":"wire","prompt":"@run 0 echo hi\n@message done"}]},"_meta":{"progressToken":"tok-1"}}}""");
            stdout.Clear();
            await ReadUntilResponseAsync(process, 2, stdout);
        }
        finally
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(15)))
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var notes = stdout.Select(l => JsonDocument.Parse(l).RootElement)
            .Where(m => m.TryGetProperty("method", out var method) && method.GetString() == "notifications/progress")
            .Select(m => m.GetProperty("params"))
            .ToList();
        Assert.All(notes, n => Assert.Equal("tok-1", n.GetProperty("progressToken").GetString()));
        Assert.Equal([1.0, 2.0, 3.0, 4.0], notes.Select(n => n.GetProperty("progress").GetDouble()));
        var messages = notes.Select(n => n.GetProperty("message").GetString()!).ToList();
        Assert.Equal("wire: queued", messages[0]);
        Assert.Matches("^wire: container [0-9a-f]{12} started$", messages[1]);
        Assert.Equal("wire: ran /bin/bash -lc 'echo hi' (exit 0)", messages[2]);
        Assert.Equal("wire: success: 0 file(s) changed", messages[3]);
        using var containers = new SandboxContainers(docker);
        await containers.AssertNoneLeftAsync(repository.Path);
    }

    private static Process StartServer(string repoPath, params string[] extra)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[McpServerProcess.ServerDll, "--repo", repoPath, .. extra])
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment.Remove("CODEX_API_KEY");
        return Process.Start(psi)!;
    }

    private static async Task SendAsync(Process process, string line)
    {
        await process.StandardInput.WriteAsync(line + "\n");
        await process.StandardInput.FlushAsync();
    }

    /// <summary>Reads stdout lines until the response with <paramref name="id"/>; lines before it (notifications) go to <paramref name="seen"/>.</summary>
    private static async Task<string> ReadUntilResponseAsync(Process process, int id, List<string> seen)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException($"the server closed stdout before answering request {id}; stdout so far: {string.Join("\n", seen)}");
            try
            {
                using var message = JsonDocument.Parse(line);
                if (message.RootElement.ValueKind == JsonValueKind.Object
                    && message.RootElement.TryGetProperty("id", out var got) && got.ValueKind == JsonValueKind.Number && got.GetInt32() == id)
                {
                    return line;
                }
            }
            catch (JsonException)
            {
                // Not JSON: kept, and the caller's check of every line reports it.
            }

            seen.Add(line);
        }
    }
}
