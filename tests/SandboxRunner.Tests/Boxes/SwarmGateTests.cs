using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>
/// The swarm box's gate (<see cref="ServiceSpecs.Gate"/>) with the task file the runner writes (<see cref="SwarmGate"/>),
/// run by this machine's /bin/sh against values an agent's task could carry: each arrives byte for byte, nothing in
/// them is ever run.
/// </summary>
public sealed class SwarmGateTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sr-gate-").FullName;

    private static readonly string[] Tricky =
    [
        "it's", "'", "''", "a'b'c", "line one\nline two", "$(touch /tmp/sr-gate-pwned)", "`id`", "$HOME", "\\", "\"", " lead and trail ", "*", "-n", "", "é ✓", "a\tb", "!x", ";exit 7",
    ];

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Runs the gate (its folder moved to a temporary one) with the task file for <paramref name="launch"/>; returns what the command printed.</summary>
    private async Task<(int Exit, string Out)> RunGateAsync(SwarmGate.Launch launch)
    {
        await File.WriteAllTextAsync(Path.Combine(_folder, ServiceSpecs.TaskFile), SwarmGate.Script(launch));
        await File.WriteAllTextAsync(Path.Combine(_folder, ServiceSpecs.GateFile), "");
        // The gate's own setpriv line is kept: this machine has util-linux, as the runner's images do.
        var gate = ServiceSpecs.Gate.Replace(ServiceSpecs.GateFolder, _folder, StringComparison.Ordinal);
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-c", gate, "sandbox-runner-gate"])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await errors);
        return (process.ExitCode, await output);
    }

    [Fact]
    public async Task Every_argument_reaches_the_command_byte_for_byte_and_none_is_run()
    {
        var (_, output) = await RunGateAsync(new(["/usr/bin/printf", "<%s>\\0", .. Tricky], "/", new Dictionary<string, string>()));

        Assert.Equal(Tricky.Select(t => $"<{t}>"), output.Split('\0')[..^1]);
        Assert.False(File.Exists("/tmp/sr-gate-pwned"));
    }

    [Fact]
    public async Task Every_variable_reaches_the_command_byte_for_byte_beside_the_images_own()
    {
        var environment = Tricky.Select((value, i) => ($"SR_GATE_{i}", value)).ToDictionary(p => p.Item1, p => p.value);

        var (_, output) = await RunGateAsync(new(["/usr/bin/env", "-0"], "/", environment));

        var seen = output.Split('\0').Where(l => l.Length > 0).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.All(environment, kv => Assert.Equal(kv.Value, seen[kv.Key]));
        Assert.True(seen.ContainsKey("PATH"));
    }

    [Fact]
    public async Task The_command_starts_in_the_tasks_folder_whatever_its_name()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "it's a $(folder)\nwith `newlines`")).FullName;

        var (_, output) = await RunGateAsync(new(["/bin/pwd"], folder, new Dictionary<string, string>()));

        Assert.Equal(folder + "\n", output);
    }

    [Fact]
    public void A_variable_name_sh_cannot_set_or_a_nul_is_refused_naming_it()
    {
        var name = Assert.Throws<InvalidOperationException>(() => SwarmGate.Script(new(["true"], "/", new Dictionary<string, string> { ["A-B"] = "x" })));
        Assert.Throws<InvalidOperationException>(() => SwarmGate.Script(new(["true"], "/", new Dictionary<string, string> { ["A"] = "x\0y" })));
        Assert.Throws<InvalidOperationException>(() => SwarmGate.Script(new([], "/", new Dictionary<string, string>())));

        Assert.Contains("'A-B'", name.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_archive_writes_the_task_file_before_the_go_file_both_the_box_users_alone()
    {
        using var tar = new MemoryStream();
        await SwarmGate.WriteAsync(tar, SwarmGate.Script(new(["true"], "/", new Dictionary<string, string> { ["K"] = "v" })), "1000:1001", CancellationToken.None);
        tar.Position = 0;

        var entries = new List<TarEntry>();
        var texts = new List<string>();
        using var reader = new TarReader(tar);
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            entries.Add(entry);
            texts.Add(await new StreamReader(entry.DataStream ?? new MemoryStream(), Encoding.UTF8).ReadToEndAsync());
        }

        Assert.Equal([ServiceSpecs.TaskFile, ServiceSpecs.GateFile], entries.Select(e => e.Name));
        Assert.All(entries, e => Assert.Equal((1000, 1001, UnixFileMode.UserRead), (e.Uid, e.Gid, e.Mode)));
        Assert.Contains("export K='v'", texts[0], StringComparison.Ordinal);
    }
}
