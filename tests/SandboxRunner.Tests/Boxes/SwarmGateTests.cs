using System.Diagnostics;
using System.Text;
using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>
/// The swarm box's gate (<see cref="ServiceSpecs.Gate"/>) with the task text the runner writes to its standard input
/// (<see cref="SwarmGate"/>), run by this machine's /bin/sh against values an agent's task could carry: each arrives byte
/// for byte, nothing in them is ever run. The gate's input is held open after the text, as a service's is.
/// </summary>
public sealed class SwarmGateTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sr-gate-").FullName;

    private static readonly string[] Tricky =
    [
        "it's", "'", "''", "a'b'c", "line one\nline two", "$(touch /tmp/sr-gate-pwned)", "`id`", "$HOME", "\\", "\"", " lead and trail ", "*", "-n", "", "é ✓", "a\tb", "!x", ";exit 7",
    ];

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Runs the gate, writes <paramref name="input"/> to it and keeps its input open; returns its exit code and what the command printed.</summary>
    private static async Task<(int Exit, string Out, string Err)> RunGateAsync(byte[] input, bool closeInput = false)
    {
        // The gate's own setpriv line is kept: this machine has util-linux, as the runner's images do.
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-c", ServiceSpecs.Gate, ServiceSpecs.GateName])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardInput.BaseStream.WriteAsync(input);
        await process.StandardInput.BaseStream.FlushAsync();
        if (closeInput)
        {
            process.StandardInput.Close();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await output, await errors);
    }

    private static async Task<string> RunGateAsync(SwarmGate.Launch launch)
    {
        var (exit, output, errors) = await RunGateAsync(SwarmGate.Message(SwarmGate.Script(launch)));
        Assert.True(exit == 0, errors);
        return output;
    }

    [Fact]
    public async Task Every_argument_reaches_the_command_byte_for_byte_and_none_is_run()
    {
        var output = await RunGateAsync(new(["/usr/bin/printf", "<%s>\\0", .. Tricky], "/", new Dictionary<string, string>()));

        Assert.Equal(Tricky.Select(t => $"<{t}>"), output.Split('\0')[..^1]);
        Assert.False(File.Exists("/tmp/sr-gate-pwned"));
    }

    [Fact]
    public async Task Every_variable_reaches_the_command_byte_for_byte_beside_the_images_own()
    {
        var environment = Tricky.Select((value, i) => ($"SR_GATE_{i}", value)).ToDictionary(p => p.Item1, p => p.value);

        var output = await RunGateAsync(new(["/usr/bin/env", "-0"], "/", environment));

        var seen = output.Split('\0').Where(l => l.Length > 0).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.All(environment, kv => Assert.Equal(kv.Value, seen[kv.Key]));
        Assert.True(seen.ContainsKey("PATH"));
    }

    [Fact]
    public async Task The_command_starts_in_the_tasks_folder_whatever_its_name()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "it's a $(folder)\nwith `newlines`")).FullName;

        var output = await RunGateAsync(new(["/bin/pwd"], folder, new Dictionary<string, string>()));

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
    public async Task The_commands_input_is_closed_as_a_local_containers_is_though_the_gates_stays_open()
    {
        var output = await RunGateAsync(new(["/bin/cat"], "/", new Dictionary<string, string>()));

        Assert.Equal("", output);
    }

    [Fact]
    public async Task A_text_cut_short_runs_nothing()
    {
        var marker = Path.Combine(_folder, "ran");
        var message = SwarmGate.Message(SwarmGate.Script(new(["/usr/bin/touch", marker], "/", new Dictionary<string, string>())));

        var (exit, _, _) = await RunGateAsync(message[..^2], closeInput: true);

        Assert.Equal(126, exit);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_gate_given_no_length_runs_nothing()
    {
        var marker = Path.Combine(_folder, "ran");

        var (exit, _, _) = await RunGateAsync(Encoding.UTF8.GetBytes($"touch {marker}\n"), closeInput: true);

        Assert.Equal(126, exit);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void The_message_is_the_texts_length_in_bytes_on_a_line_then_the_text()
    {
        var script = SwarmGate.Script(new(["true"], "/", new Dictionary<string, string> { ["K"] = "é" }));

        var message = Encoding.UTF8.GetString(SwarmGate.Message(script));

        Assert.Equal($"{Encoding.UTF8.GetByteCount(script)}\n{script}", message);
        Assert.Contains("export K='é'", script, StringComparison.Ordinal);
    }
}
