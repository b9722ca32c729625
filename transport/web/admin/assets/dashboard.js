import "./charts.js";
